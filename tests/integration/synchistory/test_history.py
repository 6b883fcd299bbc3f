"""Reading history: filters, paging newest first, and a run's record errors."""

from __future__ import annotations

from synchistory import RunStatus, Tally, Trigger

from .conftest import HISTORY, ExtraTrigger, Lane


async def test_filters_and_before_id_paging(pool) -> None:
    async with pool.acquire() as conn:
        made = []
        for n in range(6):
            trigger = ExtraTrigger.NUDGED if n % 2 else Trigger.SCHEDULED
            run = await HISTORY.start_run(conn, connection_id=f"conn-{n % 3}", trigger=trigger, lane=Lane.POLL)
            tally = Tally()
            if n == 4:
                tally.failure("SKU-4", "quantity: must be at least 0")
            await HISTORY.record(conn, run.id, tally)
            await HISTORY.finish_run(conn, run.id, error=None)
            made.append(run.id)

        page = await HISTORY.list_runs(conn, limit=4)
        assert [r["id"] for r in page] == made[::-1][:4]
        rest = await HISTORY.list_runs(conn, before_id=page[-1]["id"], limit=4)
        assert [r["id"] for r in rest] == made[1::-1]
        assert [r["id"] for r in await HISTORY.list_runs(conn, connection_id="conn-1")] == [made[4], made[1]]
        failed = await HISTORY.list_runs(conn, status=RunStatus.FAILED)
        assert [r["id"] for r in failed] == [made[4]]
        nudged = await HISTORY.list_runs(conn, trigger=ExtraTrigger.NUDGED)
        assert [r["trigger"] for r in nudged] == ["nudged"] * 3
        assert [e["record_key"] for e in await HISTORY.run_errors(conn, made[4])] == ["SKU-4"]
        assert await HISTORY.get_run(conn, 10**12) is None
