# syntax=docker/dockerfile:1
# Multi-stage build: the SDK image compiles, the ASP.NET runtime image runs as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props OtaServer.sln appsettings.json ./
COPY src/ src/
# With a runtime identifier the server is published ReadyToRun and otactl as a Native AOT executable (see the
# .csproj files); Native AOT links with clang.
RUN apt-get update && apt-get install -y --no-install-recommends clang zlib1g-dev && rm -rf /var/lib/apt/lists/*
ARG TARGETARCH
RUN rid="linux-$(case "$TARGETARCH" in arm64) echo arm64;; *) echo x64;; esac)" \
 && dotnet publish src/OtaServer/OtaServer.csproj -c Release -r "$rid" -o /app/server --no-self-contained \
 && dotnet publish src/otactl/otactl.csproj -c Release -r "$rid" -o /app/otactl

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
# liblzma (xz for delta parts) is part of the base image; ostree itself is not needed at run time.
# curl for the health check (deploy/healthcheck.sh; the base image has neither curl nor a shell with /dev/tcp).
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 ota && useradd --system --uid 10001 --gid ota --home /data ota \
 && mkdir -p /data && chown ota:ota /data
WORKDIR /app
COPY --from=build /app/server ./
COPY --from=build /app/otactl /opt/otactl
COPY deploy/healthcheck.sh /usr/local/bin/otaserver-healthcheck
RUN ln -s /opt/otactl/otactl /usr/local/bin/otactl
ENV OtaServer__DataDir=/data \
    Urls=http://0.0.0.0:8080 \
    DOTNET_gcServer=1
VOLUME ["/data"]
EXPOSE 8080
USER ota
HEALTHCHECK --interval=30s --timeout=5s CMD ["/bin/sh", "/usr/local/bin/otaserver-healthcheck"]
ENTRYPOINT ["dotnet", "OtaServer.dll"]
