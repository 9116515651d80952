"""The test cluster of tests/support/dask_cluster.py, and a first Beam pipeline on the DaskRunner.

The cluster is a real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (issue 20):
it listens on loopback only, computes, survives a killed worker, and leaves no process
behind. Beam's DaskRunner then runs Create/Map/CombineGlobally against it. These need the
``dask`` extra; without ``distributed`` they are skipped.
"""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("apache_beam")

import apache_beam as beam  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from tests.support.dask_cluster import DASK_RUNNER, DaskCluster, cluster_fixture  # noqa: E402

# Two workers of one thread, shared by the tests that do not break the cluster.
dask_cluster = cluster_fixture(workers=2)


def _listening(pid: int) -> list[str]:
    """The addresses ``pid`` listens on (TCP)."""
    import psutil  # a dependency of distributed

    process = psutil.Process(pid)
    connections = getattr(process, "net_connections", None) or process.connections
    return [c.laddr.ip for c in connections(kind="inet") if c.status == psutil.CONN_LISTEN]


def _wait_for_new_pid(cluster: DaskCluster, name: str, old: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = cluster.worker_pids().get(name)
        if pid is not None and pid != old:
            return pid
        time.sleep(0.2)
    raise AssertionError(f"worker {name} did not come back within {timeout} s")


def test_cluster_listens_on_loopback_only_and_stops_without_leftovers(tmp_path):
    cluster = DaskCluster(tmp_path / "cluster", workers=1).start()
    try:
        assert cluster.address.startswith("tcp://127.0.0.1:")
        processes = cluster.processes()
        # scheduler; the worker command (its nanny) and its worker process at least
        assert len(processes) >= 3
        listening = [ip for pid in processes for ip in _listening(pid)]
        assert listening, "nothing listens"
        # The HTTP servers too (dashboards, health): --no-dashboard alone would bind 0.0.0.0.
        assert all(ipaddress.ip_address(ip).is_loopback for ip in listening), listening
    finally:
        cluster.stop()
    assert cluster.processes() == []


def test_client_computes_on_every_worker(dask_cluster):
    with dask_cluster.client() as client:
        assert client.submit(sum, [1, 2, 3]).result() == 6
        pids = client.run(os.getpid)  # one task on each worker
    assert sorted(pids.values()) == sorted(dask_cluster.worker_pids().values())
    assert len(set(pids.values())) == 2


@pytest.mark.slow  # 6-25 s on 2 shared cores
def test_killed_worker_is_restarted_by_its_nanny_and_a_lost_one_stays_gone(tmp_path):
    with DaskCluster(tmp_path / "cluster", workers=2).start() as cluster:
        before = cluster.worker_pids()
        killed = cluster.kill_worker("w0")
        assert killed == before["w0"]
        restarted = _wait_for_new_pid(cluster, "w0", killed)
        assert restarted != killed
        with cluster.client() as client:
            assert client.submit(pow, 2, 10).result() == 1024

        cluster.kill_worker("w1", whole=True)  # nanny and worker: the machine is gone
        deadline = time.monotonic() + 30
        while "w1" in cluster.worker_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert set(cluster.worker_pids()) == {"w0"}
        with cluster.client() as client:
            assert client.submit(pow, 3, 3).result() == 27
    assert cluster.processes() == []


class _Keep(beam.DoFn):
    """Write each element to a file of its own: the pipeline's output, seen from here."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def process(self, element):  # no hints: Beam would infer the output type from them
        import pickle
        import uuid

        Path(self.folder, uuid.uuid4().hex).write_bytes(pickle.dumps(element))


@pytest.mark.slow  # 6-25 s on 2 shared cores
def test_beam_pipeline_on_the_dask_runner(dask_cluster, tmp_path):
    import pickle

    options = PipelineOptions(
        ["--runner", DASK_RUNNER, "--dask_client_address", dask_cluster.address]
        # One element per Dask partition, so that both workers get some.
        + ["--dask_partition_size", "1"]
    )
    pipeline = beam.Pipeline(options=options)
    # The DaskRunner computes only the graph of the last transform applied: the collecting
    # step must be the last, on the one chain.
    _ = (
        pipeline
        | beam.Create(range(1, 21))
        | beam.Map(lambda x: x * x)
        | beam.CombineGlobally(sum)
        | beam.ParDo(_Keep(str(tmp_path)))
    )
    result = pipeline.run()
    try:
        result.wait_until_finish()
    finally:
        result.client.close()  # the runner never closes the client it made
    outputs = [pickle.loads(path.read_bytes()) for path in tmp_path.iterdir()]
    assert outputs == [sum(x * x for x in range(1, 21))]
