#!/usr/bin/env python3
"""Creates N devices through the API (keep-alive HTTP), writes their tokens to a file, and
returns the commit every device reports. Usage: seed.py BASE_URL ADMIN_TOKEN N TOKENS_FILE"""
import http.client, json, sys, urllib.parse

base, admin, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
headers = {"Authorization": "Bearer " + admin, "Content-Type": "application/json"}
with open(out, "w") as f:
    for i in range(n):
        conn.request("POST", "/api/v1/devices", json.dumps({"name": f"bench-{i:06d}", "hardwareId": "hw1", "tag": "promoted"}), headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != 201:
            sys.exit(f"creating device {i}: HTTP {r.status} {body[:300]!r}")
        f.write(json.loads(body)["token"] + "\n")
