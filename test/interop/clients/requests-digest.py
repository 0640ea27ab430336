"""Python requests' HTTPDigestAuth (Debian python3-requests) on one Session: GET the URL COUNT times and print a JSON
report (statuses, the 401s before each answer, the nonce count requests reached, connections used).
Usage: requests-digest.py URL USER_HEX PASSWORD_HEX COUNT. After the first exchange requests answers preemptively,
reusing the nonce with nc 2, 3, … on the kept-alive connection."""
import json
import sys

import requests
from requests.auth import HTTPDigestAuth

url, user, password, count = sys.argv[1], bytes.fromhex(sys.argv[2]).decode(), bytes.fromhex(sys.argv[3]).decode(), int(sys.argv[4])
auth = HTTPDigestAuth(user, password)
out = []
with requests.Session() as s:
    s.auth = auth
    for _ in range(count):
        r = s.get(url, timeout=10)
        out.append({'status': r.status_code, 'text': r.text, 'history': [h.status_code for h in r.history]})
    pool = s.get_adapter(url).poolmanager.connection_from_url(url)
    print(json.dumps({'responses': out, 'nonceCount': auth._thread_local.nonce_count, 'connections': pool.num_connections}))
