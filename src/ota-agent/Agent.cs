using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace OtaAgent;

/// <summary>How a cycle ended; the exit status of <c>run-once</c>.</summary>
internal enum CycleOutcome
{
    UpToDate = 0,
    ConfigError = 1,
    RebootRequested = 2,
    NoSpace = 3,
    Failed = 4,
    ServerProblem = 5,
    Updated = 6,
}

/// <summary>One update cycle: finish a staged update after its reboot, check in, and when offered: check space, pull, deploy, reboot.</summary>
internal sealed class Agent(AgentConfig config, TextWriter log) : IDisposable
{
    /// <summary>The largest answer the agent reads from the server; a bigger one is treated as a broken server.</summary>
    public const int MaxAnswerBytes = 1024 * 1024;

    private readonly HttpClient _http = CreateClient(config);

    /// <summary>Delta downloads: no base address, no device token (the repository is read as ostree reads it), no overall timeout (an idle one per read).</summary>
    private readonly HttpClient _downloads = CreateDownloadClient(config);

    private string PendingPath => Path.Combine(config.StateDir, "pending.json");

    private string DeployingPath => Path.Combine(config.StateDir, "deploying.json");

    private static HttpClient CreateClient(AgentConfig config)
    {
        var server = config.Server!.EndsWith('/') ? config.Server : config.Server + "/";
        return new HttpClient(CreateHandler(config)) { BaseAddress = new Uri(server), Timeout = TimeSpan.FromSeconds(60), MaxResponseContentBufferSize = MaxAnswerBytes };
    }

    private static HttpClient CreateDownloadClient(AgentConfig config) => new(CreateHandler(config)) { Timeout = Timeout.InfiniteTimeSpan };

    private static SocketsHttpHandler CreateHandler(AgentConfig config)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) };
        if (config.CaFile is { } ca)
        {
            var root = X509CertificateLoader.LoadCertificateFromFile(ca);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            {
                if (cert is null)
                    return false;
                if (errors == SslPolicyErrors.None)
                    return true;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(root);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == 0 && chain.Build(new X509Certificate2(cert));
            };
        }
        return handler;
    }

    public async Task<CycleOutcome> RunOnceAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(config.StateDir);
        try
        {
            await EnsureTokenAsync(ct);
            var deployments = await Ostree.DeploymentsAsync(config.Sysroot, config.OsName!, ct);
            // Booted system: the booted deployment; outside one (tests, image builds): the default one.
            var current = deployments.FirstOrDefault(d => d.Booted).Commit ?? deployments.FirstOrDefault().Commit;
            if (LoadPending() is { } pending)
                return await FinishAsync(pending, current, deployments, ct);
            if (File.Exists(DeployingPath) && await ResolveDeployIntentAsync(deployments, ct) is { } resumed)
                return resumed;

            var answer = await CheckInAsync(current, ct);
            if (!answer.UpdateAvailable || answer.Target is null)
            {
                log.WriteLine($"Up to date (version {answer.CurrentVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}).");
                return CycleOutcome.UpToDate;
            }
            return await UpdateAsync(answer.Target, answer.Delta, current, ct);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or ServerAnswerException)
        {
            log.WriteLine($"Server problem, nothing changed on the device: {e.Message}");
            return CycleOutcome.ServerProblem;
        }
    }

    private async Task<CycleOutcome> UpdateAsync(CheckinTarget target, CheckinDelta? delta, string? current, CancellationToken ct)
    {
        // Space on the repository's filesystem: what the delta says the device must write (requiredBytes; older
        // servers only send its size) plus its download (the parts sit in the state folder while they are applied),
        // plus the margin. Without a delta only the margin is known.
        var hasDelta = delta is { Available: true };
        var needed = hasDelta ? (delta!.RequiredBytes > 0 ? delta.RequiredBytes : delta.Size) + (delta.DownloadBytes > 0 ? delta.DownloadBytes : delta.Size) : 0;
        var required = needed + config.FreeSpaceMarginBytes;
        var free = new DriveInfo(config.RepoPath).AvailableFreeSpace;
        if (free < required)
        {
            var detail = $"needs {required} bytes (update {needed} + margin {config.FreeSpaceMarginBytes}), {free} free on {config.RepoPath}";
            log.WriteLine("No space: " + detail);
            await ReportAsync("no-space", target, required, detail, ct);
            await CheckInAsync(current, ct, new LastUpdate(target.Version, "no-space", detail));
            return CycleOutcome.NoSpace;
        }

        var repo = "--repo=" + config.RepoPath;
        List<string> add = [repo, "remote", "add", "--if-not-exists", "--no-gpg-verify"];
        if (config.CaFile is { } ca)
            add.Add("--set=tls-ca-path=" + ca);
        add.AddRange([config.Remote, target.RepositoryUrl]);
        var r = await Ostree.RunAsync(add, ct);
        if (!r.Ok)
            return await FailAsync(target, "ostree remote add: " + r.Message, ct);

        await ReportAsync("download-started", target, hasDelta ? delta!.Size : null, hasDelta ? "through a static delta" : "object by object", ct);
        long? received = null;
        string? pullReason = hasDelta ? null : "no delta for this update";
        if (hasDelta)
        {
            // The resumable path (spotty links); any answer it cannot use leaves the device as it was.
            var fetched = await new DeltaDownload(_downloads, config, log).FetchAndApplyAsync(target.RepositoryUrl, delta!.FromCommit ?? current, target.Commit, ct);
            received = fetched.BytesReceived;
            pullReason = fetched.OstreePullReason;
        }
        if (pullReason is not null)
        {
            log.WriteLine($"Pulling with ostree ({pullReason}).");
            r = await Ostree.RunAsync([repo, "pull", config.Remote, target.Commit], ct);
            log.Write(r.Out);
            if (!r.Ok)
                return await FailAsync(target, "ostree pull: " + r.Message, ct);
        }
        await ReportAsync("downloaded", target, received ?? delta?.Size, pullReason is null ? "delta applied offline" : "ostree pull: " + pullReason, ct);

        // The intent is recorded first, the staged record only once deploy has returned: a kill in between is
        // resolved by the next cycle from the sysroot itself (ResolveDeployIntentAsync).
        WriteAtomically(DeployingPath, JsonSerializer.Serialize(new DeployIntent(target.Version, target.Commit, current ?? ""), AgentJson.Default.DeployIntent));
        log.WriteLine($"Deploying {target.Commit} (ostree admin deploy).");
        r = await Ostree.RunAsync(["admin", "--sysroot=" + config.Sysroot, "deploy", "--os=" + config.OsName, target.Commit], ct);
        if (!r.Ok)
        {
            File.Delete(DeployingPath);
            return await FailAsync(target, "ostree admin deploy: " + r.Message, ct);
        }
        return await StagedAsync(new PendingUpdate(target.Version, target.Commit, current ?? ""), ct);
    }

    /// <summary>Deploy has returned (or a killed one had finished): record the staged update, report, reboot.</summary>
    private async Task<CycleOutcome> StagedAsync(PendingUpdate pending, CancellationToken ct)
    {
        SavePending(pending);
        File.Delete(DeployingPath);
        await ReportAsync("staged", new CheckinTarget(pending.Version, pending.Commit, "", ""), null, null, ct);
        log.WriteLine($"Staged version {pending.Version}; rebooting ({config.RebootCommand}).");
        var reboot = await Ostree.ShellAsync(config.RebootCommand, ct);
        if (!reboot.Ok)
            log.WriteLine($"The reboot command failed ({reboot.Exit}): {reboot.Message}; the update boots with the next reboot.");
        return CycleOutcome.RebootRequested;
    }

    /// <summary>
    /// A deploy was under way when the agent stopped: <c>ostree admin deploy</c> either finished (the target is the
    /// default deployment: go on as if it had returned) or left the sysroot as it was (forget it; the cycle starts over).
    /// </summary>
    private async Task<CycleOutcome?> ResolveDeployIntentAsync(IReadOnlyList<(string Commit, bool Booted)> deployments, CancellationToken ct)
    {
        DeployIntent? intent = null;
        try
        {
            intent = JsonSerializer.Deserialize(await File.ReadAllTextAsync(DeployingPath, ct), AgentJson.Default.DeployIntent);
        }
        catch (JsonException)
        {
        }
        if (intent is not null && deployments.Count > 0 && deployments[0].Commit == intent.Commit)
        {
            log.WriteLine($"The last cycle stopped after deploying {intent.Commit}; carrying on.");
            var pending = new PendingUpdate(intent.Version, intent.Commit, intent.PreviousCommit);
            if (deployments[0].Booted)
            {
                // It has even been booted meanwhile: confirm it.
                SavePending(pending);
                File.Delete(DeployingPath);
                return await FinishAsync(pending, intent.Commit, deployments, ct);
            }
            return await StagedAsync(pending, ct);
        }
        File.Delete(DeployingPath);
        return null;
    }

    /// <summary>After the reboot of a staged update: health check, then ok, or roll back and report failed.</summary>
    private async Task<CycleOutcome> FinishAsync(PendingUpdate pending, string? current, IReadOnlyList<(string Commit, bool Booted)> deployments, CancellationToken ct)
    {
        var target = new CheckinTarget(pending.Version, pending.Commit, "", "");
        if (current != pending.Commit)
        {
            var reason = pending.RolledBack ? "health check failed; rolled back" : "rolled back: the device booted its previous deployment";
            await ReportAsync("failed", target, null, reason, ct);
            File.Delete(PendingPath);
            // The check-in carries the outcome to the wave (its health gate counts it).
            await CheckInAsync(current, ct, new LastUpdate(pending.Version, "failed", reason));
            return CycleOutcome.Failed;
        }
        await ReportAsync("rebooted", target, null, null, ct);
        if (config.HealthCheckCommand is { } check)
        {
            var h = await Ostree.ShellAsync(check, ct);
            if (!h.Ok)
            {
                var reason = $"health check failed (exit {h.Exit}): {h.Message}";
                log.WriteLine(reason + "; rolling back.");
                if (deployments.Count > 1 && deployments[0].Commit == pending.Commit)
                {
                    var u = await Ostree.RunAsync(["admin", "--sysroot=" + config.Sysroot, "undeploy", "0"], ct);
                    if (!u.Ok)
                        reason += "; undeploy failed: " + u.Message;
                }
                File.Delete(PendingPath);
                await ReportAsync("failed", target, null, reason + "; rolled back", ct);
                await CheckInAsync(pending.PreviousCommit.Length == 64 ? pending.PreviousCommit : null, ct,
                    new LastUpdate(pending.Version, "failed", (reason + "; rolled back") is { Length: > 2000 } r ? r[..2000] : reason + "; rolled back"));
                await Ostree.ShellAsync(config.RebootCommand, ct);
                return CycleOutcome.Failed;
            }
        }
        File.Delete(PendingPath);
        await ReportAsync("ok", target, null, null, ct);
        await CheckInAsync(current, ct, new LastUpdate(pending.Version, "ok", null));
        log.WriteLine($"Version {pending.Version} is running and healthy.");
        return CycleOutcome.Updated;
    }

    private async Task<CycleOutcome> FailAsync(CheckinTarget target, string reason, CancellationToken ct)
    {
        log.WriteLine("Update failed: " + reason);
        await ReportAsync("failed", target, null, reason.Length > 2000 ? reason[..2000] : reason, ct);
        return CycleOutcome.Failed;
    }

    private async Task EnsureTokenAsync(CancellationToken ct)
    {
        if (File.Exists(config.TokenPath))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(config.TokenPath, ct)).Trim());
            return;
        }
        if (string.IsNullOrEmpty(config.RegistrationToken))
            throw new AgentException($"No device token in {config.TokenPath} and no 'registrationToken' in the config: ask an operator for one (otactl devices registration-token).");
        var name = config.DeviceName ?? Environment.MachineName;
        using var response = await _http.PostAsJsonAsync("api/v1/devices/register",
            new RegisterRequest(config.RegistrationToken, name, config.HardwareId, config.Tag), AgentJson.Default.RegisterRequest, ct);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            if ((int)response.StatusCode >= 500)
                throw new ServerAnswerException($"registration answered {(int)response.StatusCode}");
            throw new AgentException($"Registration as '{name}' refused ({(int)response.StatusCode}): {body}");
        }
        var created = await response.Content.ReadFromJsonAsync(AgentJson.Default.RegisterResponse, ct)
            ?? throw new ServerAnswerException("registration answered JSON null");
        // Create-only with mode 0600: the token never sits readable by others, not even for a moment.
        var dir = Path.GetDirectoryName(Path.GetFullPath(config.TokenPath))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".device-token-{Environment.ProcessId}.tmp");
        await using (var f = new FileStream(tmp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        await using (var w = new StreamWriter(f))
            await w.WriteAsync(created.Token);
        File.Move(tmp, config.TokenPath, overwrite: false);
        log.WriteLine($"Registered as device '{created.Device.Name}'.");
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.Token);
    }

    private async Task<CheckinResponse> CheckInAsync(string? current, CancellationToken ct, LastUpdate? lastUpdate = null)
    {
        using var response = await _http.PostAsJsonAsync("api/v1/devices/checkin", new CheckinRequest(config.HardwareId!, config.Tag!, current, lastUpdate), AgentJson.Default.CheckinRequest, ct);
        if (!response.IsSuccessStatusCode)
            throw new ServerAnswerException($"check-in answered {(int)response.StatusCode}");
        var answer = await response.Content.ReadFromJsonAsync(AgentJson.Default.CheckinResponse, ct) ?? throw new ServerAnswerException("check-in answered JSON null");
        if (answer.UpdateAvailable && (answer.Target is null || answer.Target.Commit.Length != 64 || !answer.Target.Commit.All(char.IsAsciiHexDigitLower)))
            throw new ServerAnswerException("check-in offered an update without a valid target commit");
        return answer;
    }

    private async Task ReportAsync(string step, CheckinTarget target, long? bytes, string? detail, CancellationToken ct)
    {
        try
        {
            using var response = await _http.PostAsJsonAsync("api/v1/devices/reports", new ReportRequest(step, target.Version, target.Commit, bytes, detail), AgentJson.Default.ReportRequest, ct);
            if (!response.IsSuccessStatusCode)
                log.WriteLine($"Report '{step}' answered {(int)response.StatusCode}.");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            // A lost report never stops the update: the next check-in tells the server where the device is.
            log.WriteLine($"Report '{step}' not delivered: {e.Message}");
        }
    }

    private PendingUpdate? LoadPending()
    {
        if (!File.Exists(PendingPath))
            return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(PendingPath), AgentJson.Default.PendingUpdate);
        }
        catch (JsonException)
        {
            File.Delete(PendingPath);
            return null;
        }
    }

    private void SavePending(PendingUpdate pending) => WriteAtomically(PendingPath, JsonSerializer.Serialize(pending, AgentJson.Default.PendingUpdate));

    /// <summary>Replaces <paramref name="path"/> atomically and durably (a kill or power cut leaves the old or the new file).</summary>
    private static void WriteAtomically(string path, string text)
    {
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            f.Write(System.Text.Encoding.UTF8.GetBytes(text));
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public void Dispose()
    {
        _http.Dispose();
        _downloads.Dispose();
    }
}

/// <summary>The server answered something the agent cannot act on (5xx, garbage, too big).</summary>
internal sealed class ServerAnswerException(string message) : Exception(message);
