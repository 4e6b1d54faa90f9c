"""One fault stack per test module (see harness.py): built when the module's first test asks
for it, torn down after its last (processes' groups killed, a frozen redis thawed first, the
database dropped). A module may set STACK_ENV (extra environment for every process) and
STACK_LEARNERS (how many enrolled learners its tests take). Under pytest-xdist a module's
tests all run on one worker, with one stack (the scheduler in tests/conftest.py)."""

from collections.abc import Iterator

import boto3
import pytest
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer

from tests.deploy.conftest import unique_name
from tests.faults.harness import FaultProcesses, FaultStack, start_stack
from tests.processes import free_port
from tests.smtp import RecordingHandler

BUCKET = "lyo-faults-media"


@pytest.fixture(scope="module")
def stack(request, pg_server, migrated_template, tmp_path_factory) -> Iterator[FaultStack]:
    log_dir = tmp_path_factory.mktemp("faults")
    database = unique_name("lyo_faults")
    pg_server.create_database(database, template=migrated_template.name)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    handler = RecordingHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    processes = FaultProcesses()
    try:
        moto.start()
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=BUCKET)
        smtp.start()
        yield start_stack(
            processes=processes,
            pg=pg_server,
            database=database,
            log_dir=log_dir,
            smtp=handler,
            smtp_port=smtp.port,
            s3_endpoint=endpoint,
            bucket=BUCKET,
            learners=getattr(request.module, "STACK_LEARNERS", 6),
            extra_env=getattr(request.module, "STACK_ENV", None),
        )
    finally:
        processes.stop_all()
        smtp.stop()
        moto.stop()
        pg_server.drop_database(database)
