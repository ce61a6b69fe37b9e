"""Marshmallow schemas for what comes in (hook requests) and what goes out (cards).

Field names and rules follow CDS Hooks 2.0 ("Calling a CDS Service", "CDS Service Response")
and the hook definitions of order-select 1.0, order-sign 1.0 and appointment-book 1.0.
"""

from __future__ import annotations

from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from cds_service.fhir_time import parse_instant
from cds_service.hook_call import FhirAuthorization, HookCall

USER_REFERENCE = validate.Regexp(
    r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$",
    error="must be a reference such as Practitioner/123",
)
FHIR_ID = validate.Regexp(r"^[A-Za-z0-9\-.]{1,64}$", error="must be a FHIR id")


class Lenient(Schema):
    class Meta:
        unknown = EXCLUDE  # fields from newer spec versions or extensions are ignored


class FhirAuthorizationSchema(Lenient):
    access_token = fields.String(required=True, validate=validate.Length(min=1))
    token_type = fields.String(required=True, validate=validate.Equal("Bearer"))
    expires_in = fields.Integer(required=True, validate=validate.Range(min=0))
    scope = fields.String(required=True)
    subject = fields.String(required=True)
    patient = fields.String()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> FhirAuthorization:
        return FhirAuthorization(**data)


class ResourceField(fields.Dict):
    """A FHIR resource as JSON: an object with a resourceType."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        resource = super()._deserialize(value, attr, data, **kwargs)
        if not isinstance(resource.get("resourceType"), str):
            raise ValidationError("must be a FHIR resource with a resourceType")
        return resource


class BundleField(ResourceField):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        bundle = super()._deserialize(value, attr, data, **kwargs)
        if bundle["resourceType"] != "Bundle":
            raise ValidationError("must be a FHIR Bundle")
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            raise ValidationError("entry must be an array")
        for i, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not (isinstance(resource, dict) and isinstance(resource.get("resourceType"), str)):
                raise ValidationError(f"entry[{i}] has no resource with a resourceType")
        return bundle


class OrderContextSchema(Lenient):
    userId = fields.String(required=True, validate=USER_REFERENCE)
    patientId = fields.String(required=True, validate=FHIR_ID)
    encounterId = fields.String(validate=FHIR_ID)
    draftOrders = BundleField(required=True)


class OrderSelectContextSchema(OrderContextSchema):
    selections = fields.List(
        fields.String(validate=validate.Length(min=1)),
        required=True,
        validate=validate.Length(min=1),
    )

    @validates_schema
    def selections_are_draft_orders(self, data: dict[str, Any], **_: Any) -> None:
        drafts = {
            f"{e['resource']['resourceType']}/{e['resource'].get('id')}"
            for e in data.get("draftOrders", {}).get("entry", [])
        }
        unknown = [s for s in data.get("selections", []) if s not in drafts]
        if unknown:
            raise ValidationError(
                f"not among draftOrders: {', '.join(unknown)[:200]}", "selections"
            )


class AppointmentBookContextSchema(Lenient):
    """appointment-book 1.0 (HL7 CDS Hooks library): the proposed Appointments in a Bundle."""

    userId = fields.String(required=True, validate=USER_REFERENCE)
    patientId = fields.String(required=True, validate=FHIR_ID)
    encounterId = fields.String(validate=FHIR_ID)
    appointments = BundleField(required=True)

    @validates_schema
    def starts_are_instants(self, data: dict[str, Any], **_: Any) -> None:
        """A start, where given, is a FHIR instant with its UTC offset: the dates hang on it;
        a status, where given, is a code."""
        entries = data.get("appointments", {}).get("entry", [])
        for i, entry in enumerate(entries):
            resource = entry["resource"]
            if resource["resourceType"] != "Appointment":
                raise ValidationError(f"entry[{i}] is not an Appointment", "appointments")
            if "status" in resource and not isinstance(resource["status"], str):
                # a code: whether it is booked at all hangs on it
                raise ValidationError(
                    f"entry[{i}].resource.status must be a FHIR code (a string)", "appointments"
                )
            for name in ("start", "end"):
                if name in resource and parse_instant(resource[name]) is None:
                    raise ValidationError(
                        f"entry[{i}].resource.{name} must be a FHIR instant with a UTC offset",
                        "appointments",
                    )


# Instances, built once: a schema holds no per-call state, and building one costs more than
# validating a typical context.
CONTEXT_SCHEMAS: dict[str, Schema] = {
    "order-select": OrderSelectContextSchema(),
    "order-sign": OrderContextSchema(),
    "appointment-book": AppointmentBookContextSchema(),
}


class PrefetchField(fields.Dict):
    """Prefetch: each value a FHIR resource (Bundle or OperationOutcome) or null. A wrong value
    is reported under its key (`prefetch.conditions`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        prefetch = super()._deserialize(value, attr, data, **kwargs)
        wrong = {
            key: "must be a FHIR resource or null"
            for key, item in prefetch.items()
            if not (item is None or (isinstance(item, dict) and "resourceType" in item))
        }
        if wrong:
            raise ValidationError(wrong)
        return prefetch


class HookRequestSchema(Lenient):
    """Use `HOOK_REQUEST`, the one instance (schemas hold no per-call state)."""

    hook = fields.String(required=True)
    hookInstance = fields.UUID(required=True)
    context = fields.Dict(required=True)
    fhirServer = fields.Url(require_tld=False, schemes={"http", "https"})
    fhirAuthorization = fields.Nested(FhirAuthorizationSchema)
    prefetch = PrefetchField(keys=fields.String())

    @validates_schema
    def authorization_needs_server(self, data: dict[str, Any], **_: Any) -> None:
        if "fhirAuthorization" in data and "fhirServer" not in data:
            raise ValidationError("is only allowed together with fhirServer", "fhirAuthorization")

    @validates_schema
    def context_fits_hook(self, data: dict[str, Any], **_: Any) -> None:
        schema = CONTEXT_SCHEMAS.get(data.get("hook", ""))
        if schema is None or "context" not in data:
            return
        errors = schema.validate(data["context"])
        if errors:
            raise ValidationError({"context": errors})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> HookCall:
        return HookCall(
            hook=data["hook"],
            hook_instance=str(data["hookInstance"]),
            context=data["context"],
            prefetch=data.get("prefetch"),
            fhir_server=data.get("fhirServer"),
            fhir_authorization=data.get("fhirAuthorization"),
        )


HOOK_REQUEST = HookRequestSchema()


# --- the response -------------------------------------------------------------------------


class CodingSchema(Schema):
    system = fields.String()
    code = fields.String(required=True)
    display = fields.String()


class SourceSchema(Schema):
    label = fields.String(required=True)
    url = fields.Url()
    icon = fields.Url()
    topic = fields.Nested(CodingSchema)


class ActionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["create", "update", "delete"]))
    description = fields.String(required=True)
    resource = ResourceField()
    resourceId = fields.String()

    @validates_schema
    def target(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] in ("create", "update") and "resource" not in data:
            raise ValidationError("create and update actions carry a resource", "resource")
        if data["type"] == "delete" and "resourceId" not in data:
            raise ValidationError("delete actions carry a resourceId", "resourceId")


class SuggestionSchema(Schema):
    label = fields.String(required=True)
    uuid = fields.UUID()
    isRecommended = fields.Boolean()
    actions = fields.List(fields.Nested(ActionSchema))


class LinkSchema(Schema):
    label = fields.String(required=True)
    url = fields.Url(required=True, require_tld=False)
    type = fields.String(required=True, validate=validate.OneOf(["absolute", "smart"]))
    appContext = fields.String()


class CardSchema(Schema):
    uuid = fields.UUID(required=True)  # required by this service so feedback can name the card
    summary = fields.String(required=True, validate=validate.Length(min=1, max=139))
    detail = fields.String()
    indicator = fields.String(
        required=True, validate=validate.OneOf(["info", "warning", "critical"])
    )
    source = fields.Nested(SourceSchema, required=True)
    suggestions = fields.List(fields.Nested(SuggestionSchema))
    selectionBehavior = fields.String(validate=validate.OneOf(["at-most-one", "any"]))
    overrideReasons = fields.List(fields.Nested(CodingSchema))
    links = fields.List(fields.Nested(LinkSchema))
    extension = fields.Dict(keys=fields.String())  # CDS Hooks 2.0 card extension

    @validates_schema
    def selection_behavior(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("suggestions") and "selectionBehavior" not in data:
            raise ValidationError("required when there are suggestions", "selectionBehavior")


class ResponseSchema(Schema):
    cards = fields.List(fields.Nested(CardSchema), required=True)
    systemActions = fields.List(fields.Nested(ActionSchema))


class ServiceSchema(Schema):
    hook = fields.String(required=True)
    id = fields.String(required=True)
    title = fields.String()
    description = fields.String(required=True)
    prefetch = fields.Dict(keys=fields.String(), values=fields.String())
    usageRequirements = fields.String()


class DiscoverySchema(Schema):
    services = fields.List(fields.Nested(ServiceSchema), required=True)


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """Marshmallow's nested error messages as {"context.selections": "message"}."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            where = key if not prefix else (prefix if key == "_schema" else f"{prefix}.{key}")
            flat.update(flatten(value, where))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "request"] = " ".join(messages)
        else:
            for item in messages:
                flat.update(flatten(item, prefix))
    else:
        flat[prefix or "request"] = str(messages)
    return flat
