# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postgres_server role proven by logins from the client namespaces of the shared services
rig (molecule/resources/services/topology.sh): tenant acme's client 10.128.17.10, tenant
globex's 10.128.33.10 and a host outside the cloud 203.0.113.10, all routed to the server at
10.128.1.12. Every login is psycopg2 in a child process inside the namespace (ip netns exec),
bounded by connect_timeout and the process timeout; the answers are the server's own.
The tests run in file order; the last one converges again (acme's password rotated, globex
removed) and the check-mode test reads the change log of the runs before verify.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location('rig', os.path.join(HERE, '..', '..', 'resources', 'rig.py'))
rig = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rig)

SERVER = 'hc-pg-1'
testinfra_hosts = ['podman://%s' % SERVER]
CONVERGE = os.path.join(HERE, '..', 'converge.yml')
EPHEMERAL = os.environ['MOLECULE_EPHEMERAL_DIRECTORY']
with open(os.path.join(HERE, '..', 'vars', 'tenants.yml'), encoding='utf-8') as _vars:
    VARS = yaml.safe_load(_vars)
ADDRESS = VARS['postgres_server_listen']
TENANTS = dict((tenant['name'], tenant) for tenant in VARS['postgres_server_tenants'])
ACME_PASSWORD = TENANTS['acme']['password']
ROTATED_PASSWORD = 'canary-rotated-Vb3nK8sJd4Hz'
CREDENTIALS = os.path.join(EPHEMERAL, 'credentials', SERVER)

# The client: connection settings and queries as JSON on stdin (the password never in argv),
# one JSON line out - the rows of each query, or the server's refusal.
CLIENT = r'''
import json, sys
import psycopg2
request = json.load(sys.stdin)
try:
    connection = psycopg2.connect(connect_timeout=5, **request["connect"])
except psycopg2.OperationalError as error:
    print(json.dumps({"refused": str(error)}))
    sys.exit(0)
# each statement on its own (CREATE DATABASE cannot run in a transaction block)
connection.autocommit = True
rows = {}
with connection.cursor() as cursor:
    for name, statement in request["queries"]:
        try:
            cursor.execute(statement)
            rows[name] = cursor.fetchall() if cursor.description else []
        except psycopg2.Error as error:
            rows[name] = {"error": str(error).strip()}
connection.close()
print(json.dumps({"rows": rows}, default=str))
'''


def login(client, database, user, password, queries=(), **connect):
    """Log in from the namespace of CLIENT (acme, globex, outside) to the server; returns
    {'rows': {name: rows or {'error': ...}}} or {'refused': message}."""
    namespace = rig.services_namespaces()[client]
    settings = dict(host=ADDRESS, port=5432, dbname=database, user=user, password=password, sslmode='require')
    settings.update(connect)
    done = rig.run_in_namespace(namespace, [sys.executable, '-c', CLIENT], timeout=30,
                                stdin=json.dumps({'connect': settings, 'queries': list(queries)}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def generated_password(tenant):
    with open(os.path.join(CREDENTIALS, tenant), encoding='utf-8') as handle:
        return handle.read().split()[0]


def as_postgres(host, statement):
    """A statement through the unix socket as postgres (peer), on the server."""
    done = host.run('runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 -c %s' % _quote(statement))
    assert done.rc == 0, done.stderr
    return done.stdout.strip()


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def test_acme_logs_in_from_its_network_over_tls_without_privileges(host):
    """acme's owner logs in from acme's client with TLS (pg_stat_ssl of its own session),
    holds no role attribute beyond LOGIN, cannot create a database, and owns its database."""
    answer = login('acme', 'acme', 'acme', ACME_PASSWORD, queries=[
        ('ssl', 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
        ('attributes', 'SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin'
                       ' FROM pg_roles WHERE rolname = current_user'),
        ('owner', 'SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()'),
        ('client', 'SELECT host(inet_client_addr())'),
        ('table', 'CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1) ON CONFLICT DO NOTHING'),
        ('createdb', 'CREATE DATABASE acme_second'),
    ])
    assert 'rows' in answer, answer
    rows = answer['rows']
    assert rows['ssl'][0][0] is True and rows['ssl'][0][1].startswith('TLSv1.'), rows['ssl']
    assert rows['attributes'] == [[False, False, False, False, False, True]]
    assert rows['owner'] == [['acme']]
    assert rows['client'] == [['10.128.17.10']]
    assert 'permission denied to create database' in rows['createdb']['error']


def test_certificate_names_the_listen_address(host, tmp_path):
    """The generated certificate verifies the server at its address (sslmode=verify-full with
    the certificate as its own root); its key is postgres 0600."""
    certificate = tmp_path / 'server.crt'
    certificate.write_text(host.file('/etc/postgresql/homecloud/server.crt').content_string, encoding='utf-8')
    answer = login('acme', 'acme', 'acme', ACME_PASSWORD, queries=[('one', 'SELECT 1')],
                   sslmode='verify-full', sslrootcert=str(certificate))
    assert answer == {'rows': {'one': [[1]]}}
    key = host.file('/etc/postgresql/homecloud/server.key')
    assert key.user == 'postgres' and key.mode == 0o600


def test_acme_refused_from_globex_and_from_outside(host):
    """The right password from globex's client or from outside the cloud: no pg_hba.conf line
    admits acme from there (the network lets both reach the server)."""
    for client, source in (('globex', '10.128.33.10'), ('outside', '203.0.113.10')):
        answer = login(client, 'acme', 'acme', ACME_PASSWORD)
        assert 'no pg_hba.conf entry for host "%s", user "acme", database "acme"' % source in answer.get('refused', ''), answer


def test_acme_cannot_reach_globex_database(host):
    """From its own network acme is refused on globex's database by pg_hba, and the database
    itself denies acme CONNECT (revoked from PUBLIC)."""
    answer = login('acme', 'globex', 'acme', ACME_PASSWORD)
    assert 'no pg_hba.conf entry for host "10.128.17.10", user "acme", database "globex"' in answer.get('refused', ''), answer
    answer = login('acme', 'acme', 'acme', ACME_PASSWORD, queries=[
        ('connect', "SELECT has_database_privilege('acme', 'globex', 'CONNECT'),"
                    " has_database_privilege('globex', 'acme', 'CONNECT'), has_database_privilege('acme', 'acme', 'CONNECT')")])
    assert answer['rows']['connect'] == [[False, False, True]]


def test_wrong_password_and_plain_tcp_refused(host):
    """A wrong password fails scram-sha-256; without TLS there is no line at all (hostssl only)."""
    answer = login('acme', 'acme', 'acme', ACME_PASSWORD + 'x')
    assert 'password authentication failed for user "acme"' in answer.get('refused', ''), answer
    answer = login('acme', 'acme', 'acme', ACME_PASSWORD, sslmode='disable')
    assert 'no pg_hba.conf entry for host "10.128.17.10", user "acme", database "acme", no encryption' in answer.get('refused', ''), answer


def test_globex_generated_password_logs_in_from_globex_only(host):
    """globex's password was generated on the controller into a 0600 file (directory 0700) and
    opens globex's database from globex's client; acme's client is refused."""
    path = os.path.join(CREDENTIALS, 'globex')
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(CREDENTIALS).st_mode & 0o777 == 0o700
    password = generated_password('globex')
    assert len(password) == 32
    answer = login('globex', 'globex', 'globex', password, queries=[('who', 'SELECT current_user, current_database()')])
    assert answer == {'rows': {'who': [['globex', 'globex']]}}
    answer = login('acme', 'globex', 'globex', password)
    assert 'no pg_hba.conf entry for host "10.128.17.10", user "globex"' in answer.get('refused', ''), answer


def test_listens_on_the_service_address_only(host):
    """TCP only on 10.128.1.12:5432 (no loopback, no wildcard); the unix socket for local
    administration; the password hashes are SCRAM; pg_hba.conf holds no plain host line."""
    listening = host.run('ss -H -l -t -n')
    assert listening.rc == 0, listening.stderr
    postgres = sorted(line.split()[3] for line in listening.stdout.splitlines() if line.split()[3].endswith(':5432'))
    assert postgres == ['%s:5432' % ADDRESS]
    assert host.socket('unix:///var/run/postgresql/.s.PGSQL.5432').is_listening
    assert as_postgres(host, "SELECT count(*) FROM pg_authid WHERE rolname IN ('acme', 'globex', 'initech_owner')"
                             " AND rolpassword LIKE 'SCRAM-SHA-256$%'") == '3'
    assert as_postgres(host, 'SHOW password_encryption') == 'scram-sha-256'
    # pg_hba.conf as the server parses it: no plain host line, peer login for postgres only
    assert as_postgres(host, "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','), auth_method"
                             " FROM pg_hba_file_rules WHERE type IN ('local', 'host') OR error IS NOT NULL") == 'local|all|postgres|peer'


def test_bad_input_refused_before_any_change(host):
    """A database name clash between tenants and a network with host bits: the run fails in
    validation, naming the tenants and fields, and changes nothing."""
    tenants = [dict(TENANTS['acme']), {'name': 'hooli', 'database': 'acme', 'networks': ['10.128.80.5/20']}]
    rc, out = rig.run_playbook(CONVERGE, {'postgres_server_tenants': tenants})
    assert rc != 0
    assert 'postgres_server_tenants[1] (tenant hooli): database acme clashes with tenant acme' in out
    assert 'postgres_server_tenants[1] (tenant hooli): networks[0] 10.128.80.5/20 has host bits set' in out
    assert 'changed=0' in out
    assert ACME_PASSWORD not in out
    assert as_postgres(host, "SELECT count(*) FROM pg_roles WHERE rolname = 'hooli'") == '0'


def test_check_mode_run_foresaw_the_converge():
    """The check run before the first converge (on a server without PostgreSQL) failed
    nowhere and every change it reported was made by the first converge; the second converge
    changed nothing."""
    runs = rig.change_log_runs()
    checks = [lines for check, lines in runs if check]
    converges = [lines for check, lines in runs if not check]
    assert len(checks) == 1 and len(converges) >= 2, [run_[0] for run_ in runs]
    assert not [line for line in checks[0] if line['status'] in ('failed', 'unreachable')]
    check_tasks, dummy = rig.changed_tasks(checks[0], check=True)
    first_tasks, dummy = rig.changed_tasks(converges[0], check=False)
    print('converge changed, check did not report: %s' % sorted(first_tasks - check_tasks))
    assert first_tasks and check_tasks <= first_tasks
    second_tasks, second_handlers = rig.changed_tasks(converges[1], check=False)
    assert not second_tasks and not second_handlers


def test_rotation_and_removal_touch_only_their_slices(host, monkeypatch):
    """A converge at -vvv with acme's password rotated and globex absent, initech left out:
    acme's new password works and the old one no longer does, acme's data is still there;
    globex's database, role, pg_hba lines and password file are gone; initech's slice is as
    it was. Neither password appears in that output or in the ephemeral directory."""
    initech_before = as_postgres(host, "SELECT string_agg(address || '/' || netmask, ',' ORDER BY address) FROM pg_hba_file_rules"
                                       " WHERE 'initech_app' = ANY(database)")
    assert initech_before
    acme = dict(TENANTS['acme'], password=ROTATED_PASSWORD)
    monkeypatch.setenv('ANSIBLE_VERBOSITY', '3')
    rc, out = rig.run_playbook(CONVERGE, {'postgres_server_tenants': [acme, {'name': 'globex', 'state': 'absent'}]})
    assert rc == 0, out[-3000:]
    assert '<<' in out or 'ESTABLISH' in out, 'not a -vvv output'
    for secret in (ACME_PASSWORD, ROTATED_PASSWORD):
        assert secret not in out
        found = subprocess.run(['grep', '-r', '-l', '-F', '--', secret, EPHEMERAL], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60, check=False, universal_newlines=True)
        assert found.returncode == 1, found.stdout + found.stderr

    answer = login('acme', 'acme', 'acme', ROTATED_PASSWORD, queries=[('orders', 'SELECT id FROM orders')])
    assert answer == {'rows': {'orders': [[1]]}}
    answer = login('acme', 'acme', 'acme', ACME_PASSWORD)
    assert 'password authentication failed for user "acme"' in answer.get('refused', ''), answer

    assert as_postgres(host, "SELECT count(*) FROM pg_database WHERE datname = 'globex'") == '0'
    assert as_postgres(host, "SELECT count(*) FROM pg_roles WHERE rolname = 'globex'") == '0'
    assert as_postgres(host, "SELECT count(*) FROM pg_hba_file_rules WHERE 'globex' = ANY(user_name)") == '0'
    assert not os.path.exists(os.path.join(CREDENTIALS, 'globex'))
    assert os.path.exists(os.path.join(CREDENTIALS, 'initech'))
    assert as_postgres(host, "SELECT string_agg(address || '/' || netmask, ',' ORDER BY address) FROM pg_hba_file_rules"
                             " WHERE 'initech_app' = ANY(database)") == initech_before
    assert as_postgres(host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'initech_app'") == 'initech_owner'
