"""Helpers of the tests that start servers as separate processes (make run,
the browser test): free loopback ports, the module's content hash for
cached databases, the processes found under /proc."""
import hashlib
import os
import socket

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
VAR = os.path.join(ROOT, 'var')


def free_ports(n=1):
    """n different loopback ports that nothing listens on (the sockets are
    held until all are chosen, so the kernel cannot hand one out twice)"""
    sockets = []
    try:
        for _ in range(n):
            sock = socket.socket()
            sock.bind(('127.0.0.1', 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port():
    return free_ports(1)[0]


def answers(port, host='127.0.0.1'):
    "True when something accepts a TCP connection on host:port"
    try:
        socket.create_connection((host, port), 1).close()
        return True
    except OSError:
        return False


def module_hash():
    "Hash of the module's code and data: the key of a cached database"
    digest = hashlib.sha1()
    base = os.path.join(ROOT, 'isp_billing')
    for folder, dirs, files in sorted(os.walk(base)):
        dirs.sort()
        if 'tests' in folder.split(os.sep):
            continue
        for name in sorted(files):
            if name.endswith(('.py', '.xml', '.cfg')):
                with open(os.path.join(folder, name), 'rb') as f:
                    digest.update(f.read())
    return digest.hexdigest()[:12]


def processes_with(text):
    """{pid: command line} of the live processes whose command line
    contains text (zombies, already dead, are left out)"""
    found = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmdline = f.read().replace(b'\0', b' ').decode(
                    errors='replace').strip()
            with open(f'/proc/{entry}/stat') as f:
                # state follows the parenthesised command name
                state = f.read().rsplit(')', 1)[1].split()[0]
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if text in cmdline and state != 'Z':
            found[int(entry)] = cmdline
    return found
