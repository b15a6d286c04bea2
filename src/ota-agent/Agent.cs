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

    private string PendingPath => Path.Combine(config.StateDir, "pending.json");

    private static HttpClient CreateClient(AgentConfig config)
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
        var server = config.Server!.EndsWith('/') ? config.Server : config.Server + "/";
        return new HttpClient(handler) { BaseAddress = new Uri(server), Timeout = TimeSpan.FromSeconds(60), MaxResponseContentBufferSize = MaxAnswerBytes };
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
        // Space: what the delta says it needs (its size), plus the margin; without a delta only the margin is known.
        var required = (delta is { Available: true } ? delta.Size : 0) + config.FreeSpaceMarginBytes;
        var free = new DriveInfo(config.RepoPath).AvailableFreeSpace;
        if (free < required)
        {
            var detail = $"needs {required} bytes (update {required - config.FreeSpaceMarginBytes} + margin {config.FreeSpaceMarginBytes}), {free} free on {config.RepoPath}";
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

        await ReportAsync("download-started", target, delta?.Size, delta is { Available: true } ? "through a static delta" : "object by object", ct);
        r = await Ostree.RunAsync([repo, "pull", config.Remote, target.Commit], ct);
        log.Write(r.Out);
        if (!r.Ok)
            return await FailAsync(target, "ostree pull: " + r.Message, ct);
        await ReportAsync("downloaded", target, delta?.Size, null, ct);

        r = await Ostree.RunAsync(["admin", "--sysroot=" + config.Sysroot, "deploy", "--os=" + config.OsName, target.Commit], ct);
        if (!r.Ok)
            return await FailAsync(target, "ostree admin deploy: " + r.Message, ct);
        SavePending(new PendingUpdate(target.Version, target.Commit, current ?? ""));
        await ReportAsync("staged", target, null, null, ct);

        log.WriteLine($"Staged version {target.Version}; rebooting ({config.RebootCommand}).");
        var reboot = await Ostree.ShellAsync(config.RebootCommand, ct);
        if (!reboot.Ok)
            log.WriteLine($"The reboot command failed ({reboot.Exit}): {reboot.Message}; the update boots with the next reboot.");
        return CycleOutcome.RebootRequested;
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

    private void SavePending(PendingUpdate pending)
    {
        var tmp = PendingPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(pending, AgentJson.Default.PendingUpdate));
        File.Move(tmp, PendingPath, overwrite: true);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The server answered something the agent cannot act on (5xx, garbage, too big).</summary>
internal sealed class ServerAnswerException(string message) : Exception(message);
