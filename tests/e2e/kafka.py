"""
tests/e2e/kafka.py -- what the Kafka e2e test drivers share.

A MockKafka runs BUILD/kafka-mock (librdkafka's mock cluster: N brokers on
127.0.0.1 that keep their logs in memory) and drives it through its stdin:
brokers down and up, added latency, topics, injected request errors. The
cluster lives as long as the MockKafka: stop() or the end of its `with`
block, or the driver's exit (kafka-mock stops at EOF on its stdin).

consume(), wait_messages() and produce() go through the kcat CLI. Every wait
has a deadline; a driver that runs out of time exits with a message saying
what it was waiting for (KafkaError is a SystemExit, so a test that expects
a failure can catch it).

    python3 tests/e2e/kafka.py BUILD    a self-test of the above
"""
import json, os, select, subprocess, sys, tempfile, time


class KafkaError(SystemExit):
    """A kcat run or a kafka-mock command failed; uncaught, it exits the driver
    with its message."""


class MockKafka:
    def __init__(self, build, topics=(("alerts", 1),), brokers=3):
        self.build, self.topics, self.brokers = build, list(topics), brokers
        self.proc, self.bootstrap, self._buf = None, None, b""
        self._log = None

    def start(self, timeout=10):
        """Starts kafka-mock and waits for its `bootstrap:` line."""
        exe = os.path.join(self.build, "kafka-mock")
        if not os.access(exe, os.X_OK):
            sys.exit(f"no {exe}: build it with `make BUILD={self.build} {exe}`")
        argv = [exe, "--brokers", str(self.brokers)]
        for name, partitions in self.topics:
            argv += ["--topic", f"{name}:{partitions}"]
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log)
        line = self._readline(timeout, "the bootstrap line")
        if not line.startswith("bootstrap: "):
            self.kill()
            sys.exit(f"kafka-mock: expected 'bootstrap: ...', got {line!r}\n" + self.log_text())
        self.bootstrap = line[len("bootstrap: "):]
        return self

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_text(self):
        """kafka-mock's stderr so far (its hints and librdkafka's warnings)."""
        if not self._log:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def _readline(self, timeout, what):
        deadline = time.time() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.time()
            if left <= 0:
                self.kill()
                sys.exit(f"kafka-mock: timed out after {timeout} s waiting for {what}\n"
                         + self.log_text())
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait()
                    sys.exit(f"kafka-mock exited ({self.proc.returncode}) while we waited "
                             f"for {what}\n" + self.log_text())
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def cmd(self, line, timeout=10, check=True):
        """Sends one command and waits for its answer: 'ok', or with check=False
        the error text ('error: ...' exits the driver when check is True)."""
        if not self.proc or self.proc.poll() is not None:
            raise KafkaError(f"kafka-mock is not running (command {line!r})")
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise KafkaError(f"kafka-mock went away before command {line!r}\n"
                             + self.log_text())
        reply = self._readline(timeout, f"the answer to {line!r}")
        if reply == "ok":
            return reply
        if check:
            raise KafkaError(f"kafka-mock: {line!r}: {reply}")
        return reply

    def down(self, broker="all"):
        """Disconnects the broker(s) (all, or an id 1..N): connections refused."""
        return self.cmd(f"down {broker}")

    def up(self, broker="all"):
        return self.cmd(f"up {broker}")

    def rtt(self, ms, broker="all"):
        """Adds ms of latency to every response of the broker(s); 0 removes it."""
        return self.cmd(f"rtt {broker} {ms}")

    def topic(self, name, partitions):
        return self.cmd(f"topic {name} {partitions}")

    def errors(self, api, count, *errs):
        """The next count x len(errs) `api` requests (Produce, Fetch, Metadata,
        OffsetCommit, ...), on any broker and from any client, fail with errs
        in turn (names as rd_kafka_err2name prints them)."""
        return self.cmd(f"errors {api} {count} {' '.join(errs)}")

    def clear(self, api):
        return self.cmd(f"clear {api}")

    def stop(self, timeout=10):
        """quit, then the exit status; killed if it does not go in time."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                sys.exit(f"kafka-mock did not stop within {timeout} s of quit")
        self.proc.stdout.close()
        rc = self.proc.returncode
        if rc != 0:
            sys.stderr.write(self.log_text())
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _kcat(argv, what, timeout, data=None):
    try:
        r = subprocess.run(["kcat"] + argv, input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise KafkaError(f"timed out after {timeout} s waiting for kcat to {what}")
    if r.returncode != 0:
        raise KafkaError(f"kcat failed to {what} (exit {r.returncode}):\n"
                         + r.stderr.decode("utf-8", "replace"))
    return r


def consume(bootstrap, topic, timeout=30):
    """Every message of topic, from the beginning of each partition to its
    current end: [{partition, offset, key, value}], key None when the message
    has none. key and value are str (bytes that are not UTF-8 come back as
    surrogates: s.encode("utf-8", "surrogateescape") restores them). Raises
    KafkaError when kcat fails or takes longer than timeout seconds."""
    r = _kcat(["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"],
              f"consume topic {topic}", timeout)
    msgs = []
    for line in r.stdout.decode("utf-8", "surrogateescape").split("\n"):
        if not line:
            continue
        m = json.loads(line)
        msgs.append({"partition": m["partition"], "offset": m["offset"],
                     "key": m.get("key"), "value": m.get("payload")})
    msgs.sort(key=lambda m: (m["partition"], m["offset"]))
    return msgs


def wait_messages(bootstrap, topic, n, timeout=60):
    """consume(), again and again, until topic holds at least n messages."""
    deadline, have, last = time.time() + timeout, [], ""
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        try:
            have = consume(bootstrap, topic, timeout=max(1, min(left, 30)))
            if len(have) >= n:
                return have
        except KafkaError as e:
            last = f" (last kcat error: {e})"
        time.sleep(0.2)
    sys.exit(f"timed out after {timeout} s waiting for {n} messages in {topic}; "
             f"have {len(have)}{last}")


def produce(bootstrap, topic, lines, keys=None, partition=None, timeout=30):
    """Writes each of lines (str or bytes, no newline in them) as one message,
    with the matching key from keys, or all to one partition. kcat waits until
    every message is acknowledged; a failure or the timeout raises KafkaError."""
    def raw(x):
        return x if isinstance(x, bytes) else str(x).encode()
    lines = [raw(l) for l in lines]
    argv = ["-P", "-b", bootstrap, "-t", topic]
    if partition is not None:
        argv += ["-p", str(partition)]
    if keys is not None:
        keys = [raw(k) for k in keys]
        if len(keys) != len(lines):
            raise ValueError(f"{len(keys)} keys for {len(lines)} lines")
        if any(b"\t" in k or b"\n" in k for k in keys):
            raise ValueError("a key holds a tab or a newline")
        argv += ["-K", "\t"]
        lines = [k + b"\t" + l for k, l in zip(keys, lines)]
    if any(b"\n" in l for l in lines):
        raise ValueError("a line holds a newline")
    if not lines:
        return
    _kcat(argv, f"produce {len(lines)} messages to {topic}", timeout,
          b"\n".join(lines) + b"\n")


def _self_test(build):
    n = 1000
    with MockKafka(build, topics=(("t", 4),)) as k:
        print(f"kafka-mock at {k.bootstrap}")
        keys = [f"host{i % 37}" for i in range(n)]
        produce(k.bootstrap, "t", [f"line {i} \xe9" for i in range(n)], keys=keys)
        msgs = wait_messages(k.bootstrap, "t", n, timeout=30)
        assert len(msgs) == n, f"{len(msgs)} messages, not {n}"
        where = {}
        for m in msgs:
            assert where.setdefault(m["key"], m["partition"]) == m["partition"], \
                f"key {m['key']} in partitions {where[m['key']]} and {m['partition']}"
        assert sorted(int(m["value"].split()[1]) for m in msgs) == list(range(n))
        assert all(m["value"].endswith("\xe9") for m in msgs)
        print(f"{n} messages in {len(set(where.values()))} partitions, "
              f"each key in one partition")

        produce(k.bootstrap, "t", ["p2"], partition=2)
        assert [m for m in consume(k.bootstrap, "t") if m["value"] == "p2"][0]["partition"] == 2

        k.down()
        t0 = time.time()
        try:
            got = consume(k.bootstrap, "t", timeout=3)
            assert len(got) < n + 1, "consume worked with every broker down"
            print(f"brokers down: consume returned {len(got)} messages")
        except KafkaError as e:
            print(f"brokers down: consume failed in {time.time() - t0:.1f} s: "
                  f"{str(e).splitlines()[0]}")
        k.up()
        msgs = wait_messages(k.bootstrap, "t", n + 1, timeout=30)
        assert len(msgs) == n + 1, f"{len(msgs)} messages after up, not {n + 1}"
        print(f"brokers up: {len(msgs)} messages still there")

        assert k.cmd("bogus", check=False).startswith("error: unknown command")
        k.errors("Produce", 1, "_TRANSPORT")
        k.clear("Produce")
        rc = k.stop()
    assert rc == 0, f"kafka-mock exited {rc}"
    print("ok")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: kafka.py BUILD")
    _self_test(sys.argv[1])
