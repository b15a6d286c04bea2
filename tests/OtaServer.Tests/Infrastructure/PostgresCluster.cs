using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Npgsql;

namespace OtaServer.Tests.Infrastructure;

/// <summary>Every test that needs PostgreSQL joins this collection: one throwaway cluster per test run.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
    public const string Name = "postgres";
}

/// <summary>
/// A throwaway PostgreSQL cluster: <c>initdb</c> into a temp folder, <c>pg_ctl start</c> on a free 127.0.0.1 port
/// with its unix socket in the same folder, durability off (it is thrown away). Stopped and removed on dispose.
/// Running as root (CI containers), the server runs as the <c>postgres</c> user: initdb refuses root.
/// If the cluster cannot start, every test using it fails with the reason (never skipped).
/// </summary>
public sealed partial class PostgresCluster : IDisposable
{
    private const string Superuser = "ota";
    private static int _databases;
    private readonly string _root;
    private readonly string _data;
    private readonly string _binDir;
    private readonly string? _runAs;

    public PostgresCluster()
    {
        _binDir = FindBinDir() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, pg_ctl) were found neither in /usr/local/bin nor in /usr/lib/postgresql/*/bin: " +
            "install Debian's 'postgresql' package (scripts/test.sh does) to run the PostgreSQL store tests.");
        // Short path: a unix socket path must stay under 108 bytes.
        _root = Path.Combine("/tmp", $"ota-pg-{Guid.NewGuid():N}"[..19]);
        _data = Path.Combine(_root, "data");
        var sockets = Path.Combine(_root, "sock");
        Directory.CreateDirectory(sockets);
        File.SetUnixFileMode(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            if (geteuid() == 0)
            {
                _runAs = "postgres";
                Run("id", ["-u", _runAs], asServerUser: false,
                    failure: "the tests run as root and initdb refuses root, but there is no 'postgres' user to run the cluster as (Debian's 'postgresql' package creates it)");
                Run("chown", ["-R", $"{_runAs}:", _root], asServerUser: false, failure: "could not hand the cluster folder to the postgres user");
            }
            Run(Path.Combine(_binDir, "initdb"), ["-D", _data, "-U", Superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                asServerUser: true, failure: "initdb failed");
            var log = Path.Combine(_root, "server.log");
            Exception? last = null;
            for (var attempt = 0; attempt < 3 && Port == 0; attempt++)
            {
                var port = FreePort();
                try
                {
                    Run(Path.Combine(_binDir, "pg_ctl"), ["-D", _data, "-l", log, "-w", "-t", "60", "-o",
                        $"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                        "start"], asServerUser: true, failure: "pg_ctl start failed");
                    Port = port;
                }
                catch (InvalidOperationException e)
                {
                    last = new InvalidOperationException(e.Message + "\nserver log:\n" + (File.Exists(log) ? File.ReadAllText(log) : "(none)"), e);
                }
            }
            if (Port == 0)
                throw last!;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Port { get; private set; }

    /// <summary>The maintenance database, as the superuser.</summary>
    public string AdminConnectionString => Connection("postgres");

    public string Connection(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Database = database,
        Timeout = 30,
        CommandTimeout = 60,
    }.ToString();

    /// <summary>A new, empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"t{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..20];
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
        await cmd.ExecuteNonQueryAsync();
        return Connection(name);
    }

    public void Dispose()
    {
        if (Port != 0)
        {
            try { Run(Path.Combine(_binDir, "pg_ctl"), ["-D", _data, "-m", "immediate", "-w", "stop"], asServerUser: true, failure: "pg_ctl stop failed"); }
            catch (InvalidOperationException) { }
            Port = 0;
        }
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string? FindBinDir()
    {
        static bool Has(string dir) => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl"));
        if (Has("/usr/local/bin"))
            return "/usr/local/bin";
        var debian = "/usr/lib/postgresql";
        if (!Directory.Exists(debian))
            return null;
        return Directory.GetDirectories(debian)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .Where(x => Has(x.Dir)).OrderByDescending(x => x.Version).Select(x => x.Dir).FirstOrDefault();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private void Run(string file, IReadOnlyList<string> args, bool asServerUser, string failure)
    {
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asServerUser && _runAs is not null)
        {
            psi.FileName = "runuser";
            foreach (var a in (string[])["-u", _runAs, "--", file])
                psi.ArgumentList.Add(a);
        }
        else
        {
            psi.FileName = file;
        }

        foreach (var a in args)
            psi.ArgumentList.Add(a);
        // pg_ctl's server inherits our pipes; without this the reads below would wait for the server to exit.
        psi.RedirectStandardOutput = !file.EndsWith("pg_ctl", StringComparison.Ordinal);
        psi.RedirectStandardError = psi.RedirectStandardOutput;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"PostgreSQL test cluster: {failure}: could not start {psi.FileName}.");
        var stdout = psi.RedirectStandardOutput ? p.StandardOutput.ReadToEndAsync() : Task.FromResult("");
        var stderr = psi.RedirectStandardError ? p.StandardError.ReadToEndAsync() : Task.FromResult("");
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"PostgreSQL test cluster: {failure}: {psi.FileName} {string.Join(' ', psi.ArgumentList)} did not finish in 90 s.");
        }
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"PostgreSQL test cluster: {failure} (exit {p.ExitCode}): {psi.FileName} {string.Join(' ', psi.ArgumentList)}\n{stdout.Result}{stderr.Result}");
        }
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
