# An example back-end for docker/compose.yaml: tests/e2e/backend_server.py (Python standard
# library), the HTTP application bitsd's delivery tests talk to. It records every request it gets
# (GET /_requests lists them) and answers 200.
FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY tests/e2e/backend_server.py /usr/local/bin/backend_server.py
USER 10002:10002
EXPOSE 8081
ENTRYPOINT ["python3", "/usr/local/bin/backend_server.py", "--host", "0.0.0.0", "--port", "8081"]
