# Two stages: build the release binary, then run it on a slim Debian with nothing else.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin acp-fhir

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/acp-fhir --create-home acp
COPY --from=build /src/target/release/acp-fhir /usr/local/bin/acp-fhir
USER acp
WORKDIR /var/lib/acp-fhir
ENV ACP_LISTEN=0.0.0.0:8080 \
    ACP_DATABASE_URL=sqlite:/var/lib/acp-fhir/acp-fhir.db \
    ACP_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["acp-fhir"]
CMD ["serve"]
