"""`nmc worker rebuild` throughput and swap lock time versus a plain consumer (same run).

The baseline is `bench.streams_bench.baseline`: a plain confluent-kafka consumer doing the same
decode and the same batched projection into a fresh database. The rebuild does that work too,
plus its schema, offset commits after every batch and the swap; the ratio says what that costs.
The baseline is timed from its first record; the rebuild from its start (schema, registry,
consumer start-up included) to caught up, without the swap, whose lock time is shown apart.

    .venv/bin/python -m bench.rebuild --tenants 10 --flows 100 --apps conversation,reporting
"""

from __future__ import annotations

import argparse
import uuid

from pydantic import SecretStr

from bench.common import published_history
from bench.results import add_json_option, write_json
from bench.streams_bench import baseline
from nmc.infra.db import upgrade
from nmc.infra.settings import get_settings
from nmc_streams.apps import APPS
from nmc_streams.rebuild import rebuild
from nmc_streams.settings import StreamSettings
from tests.support.streams import STARTED_PREFIXES, fresh_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--flows", type=int, default=100, help="flows per tenant")
    parser.add_argument("--apps", default="conversation,reporting")
    add_json_option(parser)
    args = parser.parse_args()
    settings = get_settings()
    prefix = f"bench-rebuild-{uuid.uuid4().hex[:8]}"
    figures: list[list[object]] = []
    with published_history(settings, args.tenants, args.flows) as (topics, events):
        STARTED_PREFIXES.add(prefix)
        print(f"{'app':<14}{'events':>8}{'baseline ev/s':>15}{'rebuild ev/s':>14}{'ratio':>7}"
              f"{'swap lock ms':>14}")
        for app in args.apps.split(","):
            n = sum(1 for e in events if e.domain in APPS[app].domains)
            base = baseline(app, [topics.topics[d] for d in APPS[app].domains], n)
            with fresh_database(settings) as url:
                upgrade(url)
                platform = settings.model_copy(update={"database_url": SecretStr(url)})
                streams = StreamSettings(topic_suffix=topics.suffix, app_id_prefix=prefix)
                result = rebuild(app, platform, streams, progress=lambda done, lag: None,
                                 operator="bench")
                consumed_s = result.seconds - result.swap_seconds
                rate = result.events / consumed_s
            print(f"{app:<14}{result.events:>8}{base:>15.0f}{rate:>14.0f}{rate / base:>7.2f}"
                  f"{result.swap_seconds * 1000:>14.0f}", flush=True)
            figures.append([app, f"{result.events:,}", f"{base:,.0f}", f"{rate:,.0f}",
                            f"{rate / base:.2f}", f"{result.swap_seconds * 1000:.0f}"])
    write_json(args.json, "rebuild", ["app", "events", "baseline ev/s", "rebuild ev/s", "ratio",
                                      "swap: locks held ms"], figures)

if __name__ == "__main__":
    main()
