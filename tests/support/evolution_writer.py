"""A producer process of its own schema directory (issue #22 item 1): writes CallDetected events
for the given keys, one transaction each, at the version its files have.

    python tests/support/evolution_writer.py SCHEMA_DIR TOPIC_SUFFIX TENANT N KEY...

Runs until it wrote N events per key; prints the number written. DATABASE_URL and the
registry come from the environment, like any producer's. With `--lockstep` first it prints
`ready`, then writes one round (an event per key) per line it reads on stdin and answers each
with `round <i>`: a test driving two writers alternately gets an interleaving by construction.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from nmc.contract.envelope import new_event
from nmc.contract.schemas import load_catalog
from nmc.infra.db import make_engine
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import get_settings
from producers.outbox import OutboxWriter
from producers.outbox.values import StoredValues, registry_lookup

EVENT = "nmc.telephony.CallDetected"


def main(argv: list[str]) -> int:
    lockstep = "--lockstep" in argv
    schema_dir, suffix, tenant, n, *keys = [a for a in argv if a != "--lockstep"]
    catalog = load_catalog(Path(schema_dir))
    settings = get_settings()
    values = StoredValues(registry_lookup(lambda: registry_client(settings)), catalog=catalog)
    values.preload(suffix)
    values.wait()
    writer = OutboxWriter(values=values, topic_suffix=suffix, catalog=catalog)
    has_name = any(f["name"] == "caller_name"
                   for f in (catalog.get(EVENT, 1) or catalog.latest(EVENT)).payload_fields)
    engine = make_engine(settings.database)
    written = 0
    if lockstep:
        print("ready", flush=True)
    for i in range(int(n)):
        if lockstep:
            sys.stdin.readline()
        for key in keys:
            payload = {"call_id": str(uuid.uuid4()), "from_phone": "+13105551212",
                       "to_phone": "+13105550000", "reason": "no-answer", "provider_ref": "CA1"}
            if has_name:
                payload["caller_name"] = f"caller {i}"
            with Session(engine) as session, session.begin():
                writer.append(session, new_event(EVENT, tenant_id=tenant, correlation_id=key,
                                                 payload=payload, catalog=catalog))
            written += 1
        if lockstep:
            print(f"round {i}", flush=True)
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
