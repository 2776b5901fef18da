-- wrk script: POST one attempt request with a bearer credential.
-- Env: MIG06_BENCH_CREDENTIAL (bearer), MIG06_BENCH_BODY (request JSON).
wrk.method = "POST"
wrk.body = os.getenv("MIG06_BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("MIG06_BENCH_CREDENTIAL")
