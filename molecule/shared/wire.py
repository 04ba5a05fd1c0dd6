"""A transfer that owes nothing to the collection: plain MPTCP sockets (IPPROTO_MPTCP,
262), and what the kernel and the links say about it. The multipath scenario runs it on
lab hosts (wire.yml); tests/kernel/test_mptcp_transfer.py runs it in namespaces, as the
other end of mptcp_transfer's client or server.

  wire.py receive PORT PATH TIMEOUT [--answer]   listen, write what one client sends to
                                                 PATH; --answer: then send back the line
                                                 mptcp_transfer's client reads (bytes,
                                                 SHA-256 by hashlib) and wait for its close
  wire.py send ADDRESS PORT PATH TIMEOUT         send the file PATH, then read what the
                                                 other end answers until it closes

Each prints one JSON object: the bytes it moved, the MPTcpExt counters' deltas of its
network namespace (/proc/net/netstat), every interface's tx and rx byte deltas
(/sys/class/net), for the sender what `ss -Mni` and `ss -tni` showed while the data
flowed (the most extra subflows, and each TCP subflow as [local, remote]) and the answer.
The checksum of the data is left to sha256sum on both files. Every blocking call is held
to TIMEOUT seconds."""

import errno
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

IPPROTO_MPTCP = 262
CHUNK = 1 << 16
SUBFLOWS = re.compile(r"(?<![\w])subflows:(\d+)")


def netstat():
    with open("/proc/net/netstat") as handle:
        rows = [line.split() for line in handle if line.startswith("MPTcpExt:")]
    return dict(zip(rows[0][1:], (int(value) for value in rows[1][1:])))


def link_bytes():
    found = {}
    for link in os.listdir("/sys/class/net"):
        found[link] = {}
        for counter in ("tx_bytes", "rx_bytes"):
            with open("/sys/class/net/%s/statistics/%s" % (link, counter)) as handle:
                found[link][counter] = int(handle.read())
    return found


def snapshot():
    return netstat(), link_bytes()


def moved(before, after):
    counters = {key: value - before[0].get(key, 0) for key, value in after[0].items()
                if value != before[0].get(key, 0)}
    links = {link: {counter: value - before[1].get(link, {}).get(counter, 0) for counter, value in counts.items()}
             for link, counts in after[1].items() if link != "lo"}
    return {"counters": counters, "links": links}


class Watch(threading.Thread):
    """`ss` every 20 ms while the data flows, for the connections to the port."""

    def __init__(self, port):
        threading.Thread.__init__(self, daemon=True)
        self.filter = ["state", "established", "dport", "= :%d" % port]
        self.extra_subflows = 0
        self.tcp_subflows = set()
        self.samples = 0
        self.done = threading.Event()

    def ss(self, option):
        return subprocess.run(["ss", option] + self.filter, capture_output=True, text=True, check=True).stdout

    def run(self):
        while not self.done.is_set():
            for count in SUBFLOWS.findall(self.ss("-HMni")):
                self.extra_subflows = max(self.extra_subflows, int(count))
            rows = self.ss("-Htni").splitlines()
            # Each socket on one line, its details (tcp-ulp-mptcp for a subflow) on the next.
            for row, details in zip(rows, rows[1:] + [""]):
                words = row.split()
                if len(words) >= 4 and "tcp-ulp-mptcp" in details:
                    # A subflow bound to a device shows as ADDRESS%DEV:PORT.
                    self.tcp_subflows.add(tuple(word.rsplit(":", 1)[0].split("%")[0] for word in words[-2:]))
            self.samples += 1
            self.done.wait(0.02)


def pump(read, write):
    """Copy from read(size) to write(data) until read returns nothing -> bytes copied."""
    count = 0
    while True:
        data = read(CHUNK)
        if not data:
            return count
        write(data)
        count += len(data)


def receive(port, path, timeout, answer=False):
    before = snapshot()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(1)
    listener.settimeout(timeout)
    conn, peer = listener.accept()
    conn.settimeout(timeout)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        def keep(data):
            out.write(data)
            digest.update(data)
        count = pump(conn.recv, keep)
    if answer:
        conn.sendall(json.dumps({"bytes": count, "digest": digest.hexdigest()}).encode("ascii") + b"\n")
        conn.shutdown(socket.SHUT_WR)
        pump(conn.recv, lambda data: None)
    # Closed only now: the listener must be there for every MP_JOIN SYN of the connection.
    conn.close()
    listener.close()
    return dict(moved(before, snapshot()), bytes=count, peer=peer[0])


def send(address, port, path, timeout):
    deadline = time.monotonic() + timeout
    before = snapshot()
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            break
        except OSError as exc:
            sock.close()
            # The receiver may start a moment after us.
            if exc.errno != errno.ECONNREFUSED or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    watch = Watch(port)
    watch.start()
    answer = []
    try:
        with open(path, "rb") as data:
            count = pump(data.read, sock.sendall)
        sock.shutdown(socket.SHUT_WR)
        # The receiver answers (or not) and closes once it has read everything.
        pump(sock.recv, answer.append)
    finally:
        watch.done.set()
        watch.join(timeout)
        sock.close()
    return dict(moved(before, snapshot()), bytes=count, ss_samples=watch.samples,
                ss_extra_subflows=watch.extra_subflows, tcp_subflows=sorted(watch.tcp_subflows),
                answer=b"".join(answer).decode("ascii", "replace"))


def main(argv):
    if argv[:1] == ["receive"] and argv[4:] in ([], ["--answer"]) and len(argv) >= 4:
        result = receive(int(argv[1]), argv[2], float(argv[3]), answer=argv[4:] == ["--answer"])
    elif argv[:1] == ["send"] and len(argv) == 5:
        result = send(argv[1], int(argv[2]), argv[3], float(argv[4]))
    else:
        sys.exit(__doc__)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
