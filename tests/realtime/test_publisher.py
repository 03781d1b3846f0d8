"""Publishing from sync code (web requests, Celery tasks): one connection, bounded, fork-safe,
and back in business after Redis restarts."""
import asyncio
import os
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from projects.events import project_group, publish_ephemeral


async def receive_published(publish, timeout=3.0) -> dict:
    """Subscribe to project 1's group on a fresh channel, run the sync ``publish`` in a thread,
    return what arrives."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(project_group(1), channel)
    try:
        await asyncio.get_running_loop().run_in_executor(None, publish)
        return await asyncio.wait_for(layer.receive(channel), timeout)
    finally:
        await layer.flush()


def publish_n(n):
    return lambda: publish_ephemeral(1, "presence", {"n": n})


def test_sync_publishing_recovers_after_a_redis_restart(redis_server, settings):
    """Redis goes away: no exception, a bounded wait, and messages flow again once it is back
    (no broken connection pool left behind)."""
    settings.PUBLISH_TIMEOUT_S = 1.0
    assert '"n":1' in async_to_sync(receive_published)(publish_n(1))["text"]

    redis_server.stop()
    started = time.monotonic()
    publish_ephemeral(1, "presence", {"n": 2})  # logged, not raised
    publish_ephemeral(1, "presence", {"n": 3})  # skipped at once: Redis was just found down
    assert time.monotonic() - started < 1.5
    redis_server.start()
    time.sleep(1.1)  # PUBLISH_RETRY_AFTER_S (1 s) after the failure, publishing resumes

    assert '"n":4' in async_to_sync(receive_published)(publish_n(4))["text"]


def test_publishing_from_an_event_loop_does_not_block_it():
    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(project_group(1), channel)
        started = time.monotonic()
        publish_ephemeral(1, "presence", {"n": "from a coroutine"})  # sync API, called on the loop
        returned_after = time.monotonic() - started
        message = await asyncio.wait_for(layer.receive(channel), 3)
        await layer.flush()
        return returned_after, message

    returned_after, message = async_to_sync(scenario)()
    assert returned_after < 0.05  # it did not wait for Redis on the loop
    assert "from a coroutine" in message["text"]


def test_a_forked_worker_publishes_through_its_own_thread():
    """Celery's prefork pool forks after the parent may have published: the child must not
    reuse the parent's publisher thread (it does not exist there) or its connection."""
    publish_ephemeral(1, "presence", {"n": "parent first"})  # the parent's thread now exists

    def fork_and_publish():
        pid = os.fork()
        if pid == 0:  # the child: publish, then leave without running the parent's cleanups
            status = 1
            try:
                publish_ephemeral(1, "presence", {"n": "from a forked worker"})
                status = 0
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0

    message = async_to_sync(receive_published)(fork_and_publish)
    assert "from a forked worker" in message["text"]
