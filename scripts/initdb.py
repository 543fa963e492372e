"""Create the database if needed and activate isp_billing (idempotent)."""
import argparse
import configparser
import os
import sqlite3
import subprocess
import sys
import tempfile


def module_state(uri, path, database):
    "Return the state of isp_billing, or None when the database is empty"
    try:
        if uri.startswith('sqlite'):
            filename = os.path.join(path, database + '.sqlite')
            if not os.path.getsize(filename):
                return None
            conn = sqlite3.connect(filename)
        else:
            import psycopg
            conn = psycopg.connect(uri.rstrip('/') + '/' + database)
        try:
            cursor = conn.cursor()
            cursor.execute(
                "SELECT state FROM ir_module WHERE name = 'isp_billing'")
            row = cursor.fetchone()
            return row[0] if row else 'unknown'
        finally:
            conn.close()
    except Exception:
        return None


def create_database(uri, path, database):
    if uri.startswith('sqlite'):
        os.makedirs(path, exist_ok=True)
        open(os.path.join(path, database + '.sqlite'), 'a').close()
        return
    import psycopg
    with psycopg.connect(uri.rstrip('/') + '/postgres',
            autocommit=True) as conn:
        exists = conn.execute(
            'SELECT 1 FROM pg_database WHERE datname = %s',
            (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', required=True)
    parser.add_argument('--database', required=True)
    parser.add_argument('--admin-password', required=True)
    args = parser.parse_args()
    config = configparser.ConfigParser()
    config.read(args.config)
    uri = config.get('database', 'uri')
    path = config.get('database', 'path')
    create_database(uri, path, args.database)
    state = module_state(uri, path, args.database)
    if state == 'activated':
        print(f'database {args.database}: isp_billing already activated')
        return
    admin = [os.path.join(os.path.dirname(sys.executable), 'trytond-admin'),
        '-c', args.config, '-d', args.database]
    with tempfile.NamedTemporaryFile('w', delete=False) as passfile:
        passfile.write(args.admin_password + '\n')
    try:
        env = dict(os.environ, TRYTONPASSFILE=passfile.name)
        if state is None:
            print(f'database {args.database}: initialising (about 10 s)')
            subprocess.run(admin + ['--all', '--email', 'admin@example.com'],
                check=True, env=env, stdin=subprocess.DEVNULL)
        print(f'database {args.database}: activating isp_billing '
            '(about 30 s)')
        subprocess.run(admin + ['-u', 'isp_billing',
                '--activate-dependencies'],
            check=True, env=env, stdin=subprocess.DEVNULL)
    finally:
        os.unlink(passfile.name)


if __name__ == '__main__':
    main()
