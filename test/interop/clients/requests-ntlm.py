"""Python requests with requests_ntlm (Debian python3-requests-ntlm) on one Session: GET the URL twice and print
a JSON report. Usage: requests-ntlm.py URL USER_HEX PASSWORD_HEX [CA_FILE]. requests_ntlm computes Extended
Protection channel bindings from the server certificate over HTTPS. Its ntlm-auth needs MD4 from OpenSSL's legacy
provider: the test runs it with OPENSSL_CONF=openssl-legacy.cnf (for this client only; Persona never loads it)."""
import json
import sys

import requests
from requests_ntlm import HttpNtlmAuth

url, user, password = sys.argv[1], bytes.fromhex(sys.argv[2]).decode(), bytes.fromhex(sys.argv[3]).decode()
verify = sys.argv[4] if len(sys.argv) > 4 else True
out = []
with requests.Session() as s:
    s.auth = HttpNtlmAuth(user, password)
    for _ in range(2):
        r = s.get(url, timeout=10, verify=verify)
        out.append({'status': r.status_code, 'text': r.text, 'history': [h.status_code for h in r.history]})
    pool = s.get_adapter(url).poolmanager.connection_from_url(url)
    print(json.dumps({'responses': out, 'connections': pool.num_connections}))
