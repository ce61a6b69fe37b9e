#!/bin/sh
# The container's entrypoint: read the secrets, bring the database schema up to date, serve.
#
# A secret may come as a variable (CDS_PATIENT_KEY_SECRET=...) or, better, as a file mounted
# from a secret store: CDS_PATIENT_KEY_SECRET_FILE=/run/secrets/patient-key (the same for
# CDS_DATABASE_URL, which holds the database password). The file's content, without its final
# newline, becomes the variable. Arguments are passed on to `cds-service serve`; arguments
# starting with `cds-service` run that command instead, with the secrets read and nothing else
# done (the purge job: `cds-service feedback purge`).
set -eu

for name in CDS_PATIENT_KEY_SECRET CDS_DATABASE_URL; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        if [ ! -r "$file" ]; then
            echo "entrypoint: ${name}_FILE: cannot read $file" >&2
            exit 2
        fi
        value=$(cat "$file")
        export "$name=$value"
    fi
done

if [ "${1:-}" = cds-service ]; then
    exec "$@"
fi

# Several replicas may start at once: the upgrade runs under a database lock, one migrates.
cds-service db upgrade
# The service itself does not migrate again at start.
export CDS_MIGRATE_ON_START=0
exec cds-service serve --host 0.0.0.0 "$@"
