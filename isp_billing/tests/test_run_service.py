"""make run as a service: scripts/run.sh started for real, on free loopback
ports with its own var directory, then stopped by SIGTERM, by Ctrl-C,
refused on a taken port, and ended when its trytond dies.

No database is needed by the test runner: run.sh builds its own SQLite
database (cached under var/cache/ on the module's content, so that only the
first run pays the initialisation). scripts/test.sh runs this module in its
first stage.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from .server_tools import (
    ROOT, VAR, answers, free_ports, module_hash, processes_with)

RUN = os.path.join(ROOT, 'scripts', 'run.sh')
#: a first start initialises the database and loads the demo (minutes on a
#: busy machine); a start on an initialised database takes seconds
FIRST_START = 600
START = 180
STOP = 60   # a stop waits up to 10 s per process group, more on a busy machine


class RunServiceBase(unittest.TestCase):
    "Start and stop scripts/run.sh in a var directory of its own"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(os.path.join(ROOT, '.venv', 'bin', 'trytond')):
            raise AssertionError('.venv is missing (run make install)')
        cls.var_dir = tempfile.mkdtemp(prefix='isp-run-service-')
        cls.prepare()

    @classmethod
    def prepare(cls):
        """A demo SQLite database in the var directory, cached on the
        module's content"""
        cls.cache = os.path.join(
            VAR, 'cache', f'run-service-{module_hash()}.sqlite')
        database = os.path.join(cls.var_dir, 'db', 'isp_demo.sqlite')
        os.makedirs(os.path.dirname(database))
        if os.path.exists(cls.cache):
            shutil.copy(cls.cache, database)
        else:
            # one start that initialises the database; kept for next runs
            run = cls.start_run(cls)
            try:
                cls.wait_running(cls, run, FIRST_START)
            finally:
                cls.stop_run(run)
            os.makedirs(os.path.dirname(cls.cache), exist_ok=True)
            shutil.copy(database, cls.cache + '.tmp')
            os.replace(cls.cache + '.tmp', cls.cache)

    @classmethod
    def tearDownClass(cls):
        left = processes_with(cls.var_dir)
        for pid in left:  # only after a failure: never leave servers behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(cls.var_dir, ignore_errors=True)
        super().tearDownClass()

    def start_run(self, ports=None, **env):
        """Start run.sh in its own process group, as a shell starts a job;
        its output goes to run.output_file and the ports to run.ports.
        env: run.sh settings (the test runner's database settings are
        never passed on)"""
        ports = ports or free_ports(3)
        base = {key: value for key, value in os.environ.items()
            if key not in {'TRYTOND_DATABASE_URI', 'DB_NAME', 'DB_CACHE',
                'DATABASE_URI'}}
        env = dict(base, VAR_DIR=self.var_dir, PORT=str(ports[0]),
            ROUTER_PORT_NORTH=str(ports[1]), ROUTER_PORT_SOUTH=str(ports[2]),
            **env)
        output = tempfile.NamedTemporaryFile(
            'w+', prefix='run-', suffix='.log', delete=False)
        run = subprocess.Popen(['bash', RUN], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True)
        run.ports = ports
        run.output_file = output
        return run

    @staticmethod
    def output(run):
        with open(run.output_file.name) as f:
            return f.read()

    def wait_running(self, run, timeout=START):
        "Wait for the 'running' message; then the web port must answer"
        deadline = time.monotonic() + timeout
        while 'isp_billing is running' not in self.output(run):
            if run.poll() is not None:
                raise AssertionError('run.sh exited (%s) before running:\n%s'
                    % (run.returncode, self.output(run)))
            if time.monotonic() > deadline:
                raise AssertionError('run.sh not running after %s s:\n%s'
                    % (timeout, self.output(run)))
            time.sleep(0.5)
        with urllib.request.urlopen(
                f'http://localhost:{run.ports[0]}/', timeout=10) as response:
            assert response.status == 200, response.status

    @staticmethod
    def stop_run(run):
        "Clean-up: SIGTERM, then SIGKILL, to run.sh only"
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(STOP)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
        if not run.output_file.closed:   # (stopped once only)
            run.output_file.close()
            os.unlink(run.output_file.name)

    def started(self, **env):
        run = self.start_run(**env)
        self.addCleanup(self.stop_run, run)
        self.wait_running(run)
        return run

    def children(self):
        "The processes run.sh started: all of them name the var directory"
        return processes_with(self.var_dir)

    def assertChildren(self, run):
        "trytond, trytond-cron and both simulators run, and answer"
        commands = list(self.children().values())
        for name, count in [('/trytond -c', 1), ('/trytond-cron -c', 1),
                ('-m routeros_sim', 2)]:
            self.assertGreaterEqual(
                sum(1 for c in commands if name in c), count,
                '%s not running: %s' % (name, commands))
        for port in run.ports:
            self.assertTrue(answers(port), port)

    def assertAllStopped(self, run):
        "Nothing run.sh started is left, and its ports are free again"
        deadline = time.monotonic() + 5
        while self.children() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.children(), {})
        for port in run.ports:
            self.assertFalse(answers(port), port)

    def wait_exit(self, run, timeout=STOP):
        try:
            return run.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail('run.sh still running %s s later:\n%s'
                % (timeout, self.output(run)))


class RunServiceTestCase(RunServiceBase):
    "scripts/run.sh starts, serves and stops as one service"

    def test_sigterm_stops_everything(self):
        "SIGTERM to run.sh stops trytond, cron and the simulators"
        run = self.started()
        self.assertChildren(run)
        run.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(run), 0, self.output(run))
        self.assertAllStopped(run)
        self.assertIn('stopped', self.output(run))

    def test_ctrl_c_stops_everything(self):
        "Ctrl-C (SIGINT to the whole process group) stops everything"
        run = self.started()
        self.assertChildren(run)
        os.killpg(run.pid, signal.SIGINT)
        self.assertEqual(self.wait_exit(run), 0, self.output(run))
        self.assertAllStopped(run)

    def test_second_run_on_same_ports_refused(self):
        """A second make run on the ports of a running one refuses to start
        and the first one keeps serving"""
        first = self.started()
        second = self.start_run(ports=first.ports)
        self.addCleanup(self.stop_run, second)
        self.assertEqual(self.wait_exit(second, 10), 1)
        output = self.output(second)
        self.assertIn('not started, port already in use', output)
        for port in first.ports:
            self.assertIn(str(port), output)
        self.assertNotIn('running', output)
        self.assertIsNone(first.poll())
        self.assertChildren(first)
        commands = list(self.children().values())
        for name, count in [('/trytond -c', 1), ('-m routeros_sim', 2)]:
            self.assertEqual(sum(1 for c in commands if name in c), count,
                commands)

    def test_taken_port_refused(self):
        "A port taken by another program: clear message, nothing started"
        for index, label in enumerate(['PORT', 'ROUTER_PORT_NORTH',
                    'ROUTER_PORT_SOUTH']):
            with self.subTest(label), socket.socket() as sock:
                sock.bind(('127.0.0.1', 0))
                sock.listen()
                ports = free_ports(3)
                ports[index] = sock.getsockname()[1]
                run = self.start_run(ports=ports)
                self.addCleanup(self.stop_run, run)
                self.assertEqual(self.wait_exit(run, 10), 1)
                output = self.output(run)
                self.assertIn('not started, port already in use', output)
                self.assertIn(f'{ports[index]} (', output)
                self.assertIn(label, output)
                for other in set(ports) - {ports[index]}:
                    self.assertNotIn(str(other), output.split('e.g.')[0])
                self.assertEqual(self.children(), {})

    def test_trytond_dies(self):
        "When trytond dies, run.sh stops the others and exits non-zero"
        run = self.started()
        trytond = [pid for pid, command in self.children().items()
            if '/trytond -c' in command]
        self.assertEqual(len(trytond), 1, self.children())
        os.kill(trytond[0], signal.SIGKILL)
        self.assertNotEqual(self.wait_exit(run), 0)
        self.assertIn('trytond exited', self.output(run))
        self.assertAllStopped(run)

    def test_trytond_never_answers(self):
        "trytond that does not answer in time: said so, exit non-zero"
        run = self.start_run(READY_TIMEOUT='0')
        self.addCleanup(self.stop_run, run)
        self.assertEqual(self.wait_exit(run, START), 1)
        output = self.output(run)
        self.assertIn('trytond did not answer in 0 s', output)
        self.assertNotIn('isp_billing is running', output)
        self.assertAllStopped(run)


if __name__ == '__main__':
    unittest.main()
