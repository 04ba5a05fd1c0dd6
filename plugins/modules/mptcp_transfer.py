# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mptcp_transfer
short_description: Prove MPTCP on the wire with a bounded transfer between two hosts
version_added: 1.0.0
description:
  - Runs one side of a test transfer. The C(server) side listens and, for each connection,
    receives until the client half-closes, then answers with what it received (byte count,
    SHA-256) and what its accepted socket says (C(SO_PROTOCOL) 262 for MPTCP, subflows from
    C(MPTCP_INFO)). The C(client) side sends O(size) bytes of seeded pseudo-random data,
    reads that answer and compares the checksums.
  - Reports whether MPTCP was really used or the connection fell back to TCP, and why (from
    the C(MPTcpExt) counters of C(/proc/net/netstat), as C(nstat) shows them); the number
    of subflows, sampled while the data flows; bytes, seconds and Mbit/s; and the path
    manager's events of the connection, as C(ip mptcp monitor) prints them.
  - The client can take one of its links down part way (O(fail_interface)) to prove that
    the connection survives on another path, and always brings it back, also on error
    or timeout.
  - Uses only the Python standard library on the target. Every wait is bounded by
    O(timeout); sockets, threads and the event subscription are closed whatever happens.
  - A probe, not a configuration change. It never reports C(changed).
author:
  - mptcp.linux contributors (@mptcp-linux)
requirements:
  - A Linux kernel with MPTCP (5.6 or later) and C(net.mptcp.enabled=1) for O(protocol=mptcp).
  - C(ip) from iproute2 on the client for O(fail_interface) and for the diagnosis of the joins (RV(joins)).
options:
  role:
    description:
      - V(server) listens and reports what it received; run it as an asynchronous task
        (with C(async) and C(poll) set to 0) and collect its result with C(ansible.builtin.async_status)
        after the client task.
      - V(client) connects, sends and compares.
      - V(probe) connects over MPTCP to any service (nothing is sent) and closes at once,
        to learn whether the service answers in MPTCP, for example one moved onto MPTCP
        with mptcpize. It reports RV(mptcp) and RV(fallback_reason).
    type: str
    required: true
    choices: [server, client, probe]
  address:
    description:
      - For V(server), the IP address to listen on (default V(0.0.0.0); V(::) for IPv6).
      - For V(client), the server's IP address or host name.
    type: str
  port:
    description: The TCP port the server listens on and the client connects to.
    type: int
    required: true
  protocol:
    description:
      - V(mptcp) opens the socket with C(IPPROTO_MPTCP) (262); the kernel falls back to TCP
        when the other side does not answer in MPTCP.
      - V(tcp) opens a plain TCP socket, for a single-path baseline or to show a fallback.
    type: str
    choices: [mptcp, tcp]
    default: mptcp
  timeout:
    description:
      - Seconds, 1 to 3600. The server stops listening, and drops connections that have not
        finished, when they are up; the client gives up connecting, sending or waiting for
        the answer.
      - Give the server more than the client, and the server task's C(async) more than both.
    type: int
    default: 60
  connections:
    description:
      - V(server) only. How many connections to serve, 1 to 64, at the same time if they
        come together; the server ends once that many have finished. Default V(1).
    type: int
  size:
    description:
      - V(client) only. How many bytes to send, 1 byte to 1 GiB, as an integer or with a
        unit (V(64M), V(64MiB), V(1G); K, M and G are powers of 1024). Default V(16MiB).
    type: raw
  seed:
    description:
      - V(client) only. The seed of the pseudo-random data (0 to 4294967295), so a run can
        be repeated byte for byte. Default V(0).
    type: int
  bind_address:
    description:
      - V(client) only. The local IP address to connect from, which picks the initial
        subflow's path.
    type: str
  events:
    description:
      - Collect the path manager's events (generic netlink family C(mptcp_pm), group
        C(mptcp_pm_events)) of the connection(s) while the module runs.
      - Joining the group needs C(CAP_NET_ADMIN) since Linux 6.7; when it is refused the
        module warns and returns no events.
    type: bool
    default: true
  fail_interface:
    description:
      - V(client) only. A local interface to take down (C(ip link set dev NAME down)) part
        way through the transfer. It is brought back up after the transfer, or on error or
        timeout, with the static addresses and the routes the kernel drops with a link
        (IPv6 addresses, routes through the link).
      - Only on hosts where a link may go down for a moment; not the link Ansible itself
        connects over.
    type: str
  fail_after_bytes:
    description:
      - V(client) only, with O(fail_interface). Take the link down once this many bytes are
        sent (1 to O(size) - 1).
      - Mutually exclusive with O(fail_after_fraction).
    type: int
  fail_after_fraction:
    description:
      - V(client) only, with O(fail_interface). Take the link down once this fraction of
        O(size) is sent, between 0 and 1. Default V(0.3) when neither this nor
        O(fail_after_bytes) is given.
    type: float
  rejoin_away:
    description:
      - V(client) only, with O(fail_interface). Instead of keeping the path down to the end,
        take it away and give it back part way, and time how long until the open
        connection uses it again (RV(rejoin)) - the kernel's path manager does not reopen a
        subflow that closed; NetworkManager or mptcp-rejoin (the role's C(mptcp_rejoin)) do.
      - V(address) removes the interface's static addresses (the link stays up);
        V(link) takes the link down. Both give back what was there, routes included.
        NetworkManager leaves its endpoints as they are after either (seen with 1.52).
      - V(networkmanager) has NetworkManager disconnect the device and connect it again
        (C(nmcli device disconnect), C(nmcli device connect)), after which it adds its
        profile's endpoints again.
      - The path stays away until none of the connection's subflows is from it (its
        subflow closed) or O(rejoin_hold) is up, then comes back; sending pauses meanwhile
        and goes on once the path is used again or O(rejoin_wait) is up.
    type: str
    choices: [address, link, networkmanager]
    version_added: 1.2.0
  rejoin_hold:
    description:
      - V(client) only, with O(rejoin_away). Seconds, 1 to 300, the path stays away at most
        while its subflow has not closed. A subflow whose packets go nowhere closes after
        TCP's retries (C(net.ipv4.tcp_retries2)); until then, a path given back resumes it.
        Default V(30).
    type: int
    version_added: 1.2.0
  rejoin_wait:
    description:
      - V(client) only, with O(rejoin_away). Seconds, 1 to 300, the client waits after
        giving the path back for the connection to use it. Default V(10).
    type: int
    version_added: 1.2.0
attributes:
  check_mode:
    description: In check mode the inputs are checked and nothing is sent, listened on or taken down.
    support: full
  diff_mode:
    description: Nothing is configured, so there is nothing to show.
    support: none
  idempotent:
    description: Changes nothing on the host (a failed link is restored as it was), so it never reports C(changed).
    support: full
  platform:
    description: Linux with MPTCP.
    support: full
    platforms: linux
notes:
  - The counters and events belong to the network namespace and count every MPTCP
    connection in it; the module keeps the events of its own connection (by token) but the
    counter deltas include whatever else ran at the same time.
  - A client retries its connection for as long as O(timeout) allows while nothing
    listens yet, so the server task may start a moment later.
  - Throughput is measured by the client from its first byte to the server's answer, so it
    includes the receiver draining its buffers. Several clients against one server at the
    same time share the paths; run them one after another (C(throttle) set to 1) to compare
    numbers.
  - With O(fail_interface), run the module with C(become); the link is taken down and up
    with C(ip link) and may disturb anything else using it for a few seconds. On a host
    whose links NetworkManager manages, NetworkManager may react to the link going down.
  - For MPTCP to open more than one subflow, the path manager must be set up (endpoints
    and limits, see M(mptcp.linux.mptcp_endpoint) and M(mptcp.linux.mptcp_limits)).
  - Extra subflows open only after the connection is established (the server announces
    its addresses then, the client joins after that). On a fast link a few MiB can be
    through before that happens, and RV(subflows_max) is then 1; give O(size) at least
    a second's worth of data.
  - The server keeps listening until its connections are done, because each extra subflow
    (MP_JOIN) arrives at the listening port; a server that stops listening after
    C(accept()) gets its joins refused (C(SF_CLOSED ... error=111)).
seealso:
  - module: mptcp.linux.mptcp_endpoint
  - module: mptcp.linux.mptcp_limits
  - module: mptcp.linux.mptcp_sysctl
  - name: MPTCP on Linux
    description: The upstream project's documentation, including how to check MPTCP is used.
    link: https://www.mptcp.dev/
"""

EXAMPLES = r"""
- name: Listen for one MPTCP connection, in the background
  mptcp.linux.mptcp_transfer:
    role: server
    port: 5210
    timeout: 90
  async: 120
  poll: 0
  register: mptcp_server_job
  delegate_to: server.example.com

- name: Send 64 MiB over MPTCP, taking eth1 down after a third
  become: true
  mptcp.linux.mptcp_transfer:
    role: client
    address: 198.18.1.10
    port: 5210
    size: 64MiB
    timeout: 60
    fail_interface: eth1
    fail_after_fraction: 0.33
  register: mptcp_client

- name: Collect what the server saw
  ansible.builtin.async_status:
    jid: "{{ mptcp_server_job.ansible_job_id }}"
  register: mptcp_server
  until: mptcp_server is finished
  retries: 60
  delay: 2
  delegate_to: server.example.com

- name: MPTCP with two subflows, nothing lost
  ansible.builtin.assert:
    that:
      - mptcp_client.mptcp
      - mptcp_client.subflows_max >= 2
      - mptcp_client.checksum_matched
      - mptcp_client.failover.completed
      - mptcp_server.connections[0].protocol == 'mptcp'
    fail_msg: "{{ mptcp_client.fallback_reason | default('no fallback', true) }}"
"""

RETURN = r"""
role:
  description: The side this task ran.
  returned: always
  type: str
  sample: client
address:
  description: The address listened on (server) or connected to (client).
  returned: always
  type: str
  sample: 198.18.1.10
port:
  description: The port.
  returned: always
  type: int
  sample: 5210
protocol:
  description: The protocol asked for (not what was negotiated; see RV(mptcp)).
  returned: always
  type: str
  sample: mptcp
mptcp:
  description:
    - The connection really used MPTCP end to end (from C(TCP_IS_MPTCP) on Linux 6.10 and
      later, else C(MPTCP_INFO), else the counters; RV(negotiated_by) says which).
  returned: role is client or probe
  type: bool
  sample: true
negotiated_by:
  description: What RV(mptcp) was decided from, V(TCP_IS_MPTCP), V(MPTCP_INFO), V(counters) or V(protocol) (for V(tcp)).
  returned: role is client or probe
  type: str
  sample: TCP_IS_MPTCP
fallback:
  description: MPTCP was asked for and the connection fell back to plain TCP.
  returned: role is client or probe
  type: bool
  sample: false
fallback_reason:
  description: Why it fell back, from the counters that moved (naming the counter); null without a fallback.
  returned: role is client or probe
  type: str
  sample: "the server answered without MP_CAPABLE: nothing listens with MPTCP on that port (...) (MPCapableFallbackSYNACK +1)"
token:
  description: The connection's MPTCP token (8 hex digits, as in the events), null when it is not MPTCP.
  returned: role is client
  type: str
  sample: 63c070d2
local_address:
  description: The client's address of the initial subflow.
  returned: role is client and it connected
  type: str
  sample: 198.18.1.20
local_port:
  description: The client's port of the initial subflow.
  returned: role is client and it connected
  type: int
  sample: 41872
size:
  description: The bytes the client was to send.
  returned: role is client
  type: int
  sample: 67108864
seed:
  description: The seed of the data.
  returned: role is client
  type: int
  sample: 0
bytes:
  description: The bytes the client sent.
  returned: role is client
  type: int
  sample: 67108864
digest:
  description: SHA-256 of what the client sent.
  returned: role is client
  type: str
  sample: 1e0b...9a
seconds:
  description: From the first byte sent to the server's answer.
  returned: role is client and the transfer finished
  type: float
  sample: 5.62
mbit_per_s:
  description: RV(bytes) over RV(seconds), in megabits (10^6 bits) per second.
  returned: role is client and the transfer finished
  type: float
  sample: 95.5
checksum_matched:
  description: The server received exactly the bytes the client sent (same count, same SHA-256).
  returned: role is client
  type: bool
  sample: true
subflows_max:
  description:
    - The most established subflows the connection had at once, the initial one included,
      sampled every 20 ms from C(MPTCP_TCPINFO) (Linux 5.16 and later; on older kernels
      C(MPTCP_INFO), whose count also includes joins still being opened). 1 for plain TCP or
      a fallback; 0 when it never connected.
  returned: role is client
  type: int
  sample: 2
subflows_end:
  description: The established subflows when the last byte was sent.
  returned: role is client
  type: int
  sample: 2
subflows_changes:
  description: Each change of the subflow count, as [seconds after connecting, count] (at most 100).
  returned: role is client
  type: list
  elements: list
  sample: [[0.0, 1], [0.021, 2]]
paths:
  description:
    - The subflows when the last byte was sent, with their TCP state and addresses (from
      C(MPTCP_TCPINFO) and C(MPTCP_SUBFLOW_ADDRS)); empty without MPTCP or before Linux 5.16.
    - Each has the fields of RV(subflow_stats) (its addresses and ports, and since 1.2.0
      its byte counters as of then), and its TCP state.
  returned: role is client
  type: list
  elements: dict
  contains:
    state:
      description: The subflow's TCP state, like V(established).
      type: str
  sample: [{"state": "established", "local": "198.18.1.20", "local_port": 41872, "remote": "198.18.1.10", "remote_port": 5210},
           {"state": "established", "local": "198.18.2.20", "local_port": 51537, "remote": "198.18.2.10", "remote_port": 5210}]
subflow_stats:
  description:
    - Every subflow the connection had, in the order they appeared, with the kernel's byte
      counters of the subflow's own TCP socket (C(MPTCP_TCPINFO), Linux 5.16 and later; a
      subflow that closed keeps its last counters). Empty without MPTCP or before Linux 5.16.
  returned: role is client
  type: list
  elements: dict
  version_added: 1.2.0
  contains:
    local:
      description: Local address.
      type: str
    local_port:
      description: Local port.
      type: int
    remote:
      description: Remote address.
      type: str
    remote_port:
      description: Remote port.
      type: int
    interface:
      description: The local interface holding RV(subflow_stats[].local) (from the kernel's address list), null when none does.
      type: str
    backup:
      description:
        - The subflow is a backup path for this host's sending, as the path manager's events of it say
          (the C(backup) of C(sf_established) and C(sf_prio), the last one winning), that is the peer asked for
          it (the backup bit of its MP_JOIN or MP_PRIO). So a client joining a server's backup endpoint
          reports V(true); the server's side of that subflow says what the client asked.
        - V(false) for a subflow without such an event when events were collected (the initial one), null
          without events (O(events=false) or the subscription refused).
      type: bool
    state:
      description: Its TCP state when last seen, like V(established) or V(close).
      type: str
    bytes_sent:
      description: C(tcpi_bytes_sent) of the subflow's TCP socket, retransmissions included (Linux 4.19 and later).
      type: int
    bytes_acked:
      description: C(tcpi_bytes_acked), the bytes the peer acknowledged on this subflow (the SYN counts 1).
      type: int
    bytes_received:
      description: C(tcpi_bytes_received), the bytes received on this subflow.
      type: int
    bytes_retrans:
      description: C(tcpi_bytes_retrans), the bytes sent again.
      type: int
    first_seconds:
      description: When it was first seen, seconds on the clock of RV(subflow_samples).
      type: float
    last_seconds:
      description: When it was last seen.
      type: float
  sample:
    - {"local": "198.18.101.2", "local_port": 38590, "remote": "198.18.101.1", "remote_port": 5210, "interface": "c1",
       "backup": false, "state": "established", "bytes_sent": 8298496, "bytes_acked": 8298497, "bytes_received": 2213,
       "bytes_retrans": 0, "first_seconds": 0.002, "last_seconds": 1.463}
subflow_samples:
  description:
    - One byte counter of each subflow over the transfer, sampled every 100 ms at most; when 300 samples are held every other one goes and the interval doubles,
      so the series stays small (the first and last samples stay).
    - The client samples C(bytes_acked), the server C(bytes_received); the differences between
      samples are each path's throughput over time (what the verify playbook draws).
  returned: role is client
  type: dict
  version_added: 1.2.0
  contains:
    counter:
      description: The counter sampled, V(bytes_acked) or V(bytes_received).
      type: str
    interval:
      description: Seconds between samples at least (grows as the series is thinned).
      type: float
    samples:
      description:
        - "[seconds, [counter per subflow]]: the seconds after the start of the task on the client
          (the clock of RV(failover.at_seconds)), after the accept on the server; one counter per
          entry of RV(subflow_stats), in that order, null where the subflow was not there."
      type: list
      elements: list
  sample: {"counter": "bytes_acked", "interval": 0.1, "samples": [[0.002, [1, 1]], [0.104, [301337, 297001]]]}
server:
  description: The server's answer about this connection (see RV(connections) for its keys).
  returned: role is client and the server answered
  type: dict
  sample: {"bytes": 67108864, "digest": "1e0b...9a", "protocol": "mptcp", "mptcp": true, "subflows_max": 2}
rejoin:
  description: The path taken away and given back, null without O(rejoin_away).
  returned: role is client
  type: dict
  version_added: 1.2.0
  contains:
    interface:
      description: The interface (O(fail_interface)).
      type: str
    away:
      description: How it was taken away (O(rejoin_away)).
      type: str
    addresses:
      description: Its local addresses, from which its subflows are recognised.
      type: list
      elements: str
    subflow_closed:
      description: None of the connection's subflows was from it any more before it came back.
      type: bool
    closed_after_seconds:
      description: From taking it away to its last subflow gone, null when it did not close within O(rejoin_hold).
      type: float
    away_seconds:
      description: How long it was away.
      type: float
    rejoined:
      description: The connection used it again within O(rejoin_wait) - a subflow from it that is new, or one that carries new bytes.
      type: bool
    rejoin_seconds:
      description:
        - From the moment the client started giving it back (addresses added, or link up) to the
          first reading of the connection's subflows that showed it used, null when not rejoined.
      type: float
    new_subflow:
      description: It was used by a new subflow (not one that lived on through the absence).
      type: bool
    error:
      description: Why nothing could be timed (a kernel that does not list the subflows).
      type: str
failover:
  description: What happened to the link taken down, null without O(fail_interface) or with O(rejoin_away).
  returned: role is client
  type: dict
  contains:
    interface:
      description: The link taken down.
      type: str
    after_bytes:
      description: Bytes sent when it went down.
      type: int
    at_seconds:
      description: Seconds after the start of the task when it went down.
      type: float
    initial_subflow:
      description: The link carried the initial subflow (its address is the connection's local address).
      type: bool
    subflows_before:
      description: Subflows just before the link went down.
      type: int
    subflows_min_after:
      description: The fewest subflows seen after it went down.
      type: int
    completed:
      description: The transfer finished after the link went down.
      type: bool
    seconds_after_failure:
      description: From the link going down to the server's answer.
      type: float
    gap_ms:
      description:
        - The failover gap - the longest stretch with no new bytes at the receiver, in ms, from the
          server's C(longest_gap_ms) of RV(connections[].receive_timeline) (between the first and the last byte,
          so on a transfer with a failover it is the failover's stall unless a longer one came elsewhere).
      type: int
      version_added: 1.2.0
    gap_after_bytes:
      description: The bytes the receiver had when that gap began (compare with RV(failover.after_bytes)).
      type: int
      version_added: 1.2.0
    restored:
      description: The link is up again with its addresses and routes.
      type: bool
    addresses_readded:
      description: Addresses the kernel had dropped with the link and the module added back.
      type: list
      elements: str
    routes_restored:
      description: Routes (not the kernel's own) recorded before and restored.
      type: int
    restore_error:
      description: Why the link could not be restored (the task then fails).
      type: str
  sample: {"interface": "eth1", "after_bytes": 22347776, "initial_subflow": true, "completed": true, "restored": true}
joins:
  description:
    - Why the connection has the subflows it has, for each local endpoint that opens joins
      (flags C(subflow), C(fullmesh) or C(laminar)) other than the address of the initial
      subflow, as the path manager reads them - the joins the kernel sent and had answered
      (the C(MPTcpExt) counters' deltas over the transfer), and the route it would take from
      that address to each address it joins (C(ip -j route get TO from ADDRESS oif DEV), and
      with C(fibmatch) to tell a real route from the kernel's guess that the server is on
      the link).
    - RV(joins.problems) has one line per address whose join did not form and why, like
      V(no route from 198.18.42.2 via eth1 to 198.18.43.10 - give this endpoint its gateway)
      or V(joins from 198.18.42.2 sent 3, answered 0 - the server's replies to 198.18.42.2
      do not come back (its return route or a strict rp_filter)), with a colon where these
      examples have a dash.
    - Null when the connection did not use MPTCP.
  returned: role is client
  type: dict
  version_added: 1.2.0
  contains:
    counters:
      description:
        - The deltas of C(MPJoinSynTx) (joins sent), C(MPJoinSynAckRx) (answered) and, where
          the kernel has them (Linux 6.2 and later), C(MPJoinSynTxCreatSkErr),
          C(MPJoinSynTxBindErr) and C(MPJoinSynTxConnectErr). They count the whole network
          namespace.
      type: dict
    announced:
      description: The addresses the server announced (from the events, else the subflows' remote addresses).
      type: list
      elements: str
    addresses:
      description: One entry per endpoint that opens joins.
      type: list
      elements: dict
      contains:
        address:
          description: The endpoint's address.
          type: str
        dev:
          description: Its device, null without one.
          type: str
        flags:
          description: Its flags.
          type: list
          elements: str
        established:
          description: A subflow from this address was established during the transfer.
          type: bool
        routes:
          description:
            - Per address joined from it, C(to), the C(dev) and C(gateway) the kernel would
              use, the C(table) of the route that matched, C(ok) (a route through the
              endpoint's device exists) and C(error) (what C(ip route get) said).
          type: list
          elements: dict
        problem:
          description: The line of RV(joins.problems) for this address, null when there is none.
          type: str
    problems:
      description: The lines, one per address whose join did not form, then the join errors the counters show.
      type: list
      elements: str
    error:
      description: Why the endpoints or counters could not be read (the diagnosis is then empty).
      type: str
  sample:
    counters: {"MPJoinSynTx": 1, "MPJoinSynAckRx": 0, "MPJoinSynTxBindErr": 0, "MPJoinSynTxConnectErr": 0, "MPJoinSynTxCreatSkErr": 0}
    announced: []
    addresses:
      - {"address": "198.18.74.20", "dev": "eth1", "flags": ["subflow"], "established": false,
         "routes": [{"to": "198.18.75.10", "dev": "eth1", "gateway": null, "table": null, "ok": false,
                     "error": "RTNETLINK answers: No route to host"}],
         "problem": "no route from 198.18.74.20 via eth1 to 198.18.75.10: give this endpoint its gateway"}
    problems: ["no route from 198.18.74.20 via eth1 to 198.18.75.10: give this endpoint its gateway"]
connections:
  description: One report per connection the server accepted.
  returned: role is server
  type: list
  elements: dict
  contains:
    peer:
      description: The client's address of the initial subflow.
      type: str
    peer_port:
      description: Its port.
      type: int
    bytes:
      description: Bytes received.
      type: int
    digest:
      description: SHA-256 of the bytes received.
      type: str
    protocol:
      description: C(SO_PROTOCOL) of the accepted socket, V(mptcp) (262) or V(tcp) (6).
      type: str
    mptcp:
      description: The connection used MPTCP.
      type: bool
    subflows_max:
      description: The most established subflows seen.
      type: int
    subflows_end:
      description: The subflows when the client had sent everything.
      type: int
    paths:
      description: The subflows then (see RV(paths)).
      type: list
    token:
      description: The server side's MPTCP token, null without MPTCP.
      type: str
    seconds:
      description: From the first byte to the end of the data, as the server saw it.
      type: float
    mbit_per_s:
      description: Throughput as the server saw it.
      type: float
    subflow_stats:
      description: The subflows of the connection on the server's side (see RV(subflow_stats)).
      type: list
      elements: dict
      version_added: 1.2.0
    subflow_samples:
      description: Their C(bytes_received) over time (see RV(subflow_samples)).
      type: dict
      version_added: 1.2.0
    receive_timeline:
      description:
        - What arrived over time - C(samples), [seconds after the accept, bytes received so far],
          taken on arrival at most every C(interval) seconds (bounded like RV(subflow_samples), the last
          arrival always in it); C(longest_gap_ms), the longest stretch between two arrivals, in ms;
          C(longest_gap_at_seconds) and C(longest_gap_after_bytes), when it began and the bytes
          received then (null with fewer than two arrivals).
      type: dict
      version_added: 1.2.0
    error:
      description: Why the connection did not finish, null when it did.
      type: str
  sample: [{"peer": "198.18.1.20", "bytes": 67108864, "protocol": "mptcp", "mptcp": true, "subflows_max": 2, "error": null}]
timed_out:
  description: The server stopped at O(timeout) before serving O(connections) connections.
  returned: role is server
  type: bool
  sample: false
counters:
  description:
    - The C(MPTcpExt) counters of C(/proc/net/netstat) that moved during the task (after
      minus before; gauges left out), for the namespace the module ran in.
  returned: always
  type: dict
  sample: {"MPCapableSYNTX": 1, "MPCapableSYNACKRX": 1, "MPJoinSynTx": 1, "MPJoinSynAckRx": 1, "AddAddr": 1}
events:
  description:
    - The path manager's events of the connection(s), in order, as dicts with C(type)
      (V(created), V(established), V(announced), V(removed), V(sf_established),
      V(sf_closed), V(sf_prio), V(closed)), C(token), the addresses, ports and ids
      C(ip mptcp monitor) prints, C(time) (seconds after the module subscribed) and
      C(line), the line C(ip mptcp monitor) would print.
    - Empty when O(events=false) or the subscription was refused (see the warnings).
  returned: always
  type: list
  elements: dict
  sample:
    - {"type": "created", "token": "63c070d2", "saddr": "198.18.1.20", "daddr": "198.18.1.10", "sport": 41872, "dport": 5210,
       "line": "[         CREATED] token=63c070d2 remid=0 locid=0 saddr4=198.18.1.20 daddr4=198.18.1.10 sport=41872 dport=5210"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mptcp.linux.plugins.module_utils.module_exit import run_module
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.ensure import ensure


def main():
    module = AnsibleModule(
        argument_spec=dict(
            role=dict(type="str", required=True, choices=["server", "client", "probe"]),
            address=dict(type="str"),
            port=dict(type="int", required=True),
            protocol=dict(type="str", default="mptcp", choices=["mptcp", "tcp"]),
            timeout=dict(type="int", default=60),
            connections=dict(type="int"),
            size=dict(type="raw"),
            seed=dict(type="int"),
            bind_address=dict(type="str"),
            events=dict(type="bool", default=True),
            fail_interface=dict(type="str"),
            fail_after_bytes=dict(type="int"),
            fail_after_fraction=dict(type="float"),
            rejoin_away=dict(type="str", choices=["address", "link", "networkmanager"]),
            rejoin_hold=dict(type="int"),
            rejoin_wait=dict(type="int"),
        ),
        mutually_exclusive=[("fail_after_bytes", "fail_after_fraction")],
        required_if=[("role", "client", ("address",)), ("role", "probe", ("address",))],
        supports_check_mode=True,
    )
    run_module(module, ensure)


if __name__ == "__main__":
    main()
