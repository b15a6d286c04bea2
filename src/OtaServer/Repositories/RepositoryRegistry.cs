using Microsoft.Extensions.Options;
using OtaServer.Configuration;

namespace OtaServer.Repositories;

/// <summary>
/// The served repositories: name → root folder under <c>&lt;DataDir&gt;/repos/</c>.
/// Creates each configured repository (archive mode, with <c>config</c>) if it is absent.
/// </summary>
public sealed partial class RepositoryRegistry
{
    public const string DefaultRepository = "main";
    /// <summary>Folder inside each repository where uploads and delta generation stage files. Never served.</summary>
    public const string StagingFolder = "tmp";

    private readonly Dictionary<string, string> _roots = new(StringComparer.Ordinal);

    public RepositoryRegistry(IOptions<OtaServerOptions> options, ILogger<RepositoryRegistry> logger)
    {
        var o = options.Value;
        var reposDir = Path.Combine(o.FullDataDir, "repos");
        Directory.CreateDirectory(reposDir);
        var names = new List<string> { DefaultRepository };
        names.AddRange(o.Repositories);
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (!IsValidName(name))
                throw new OptionsValidationException(OtaServerOptions.SectionName, typeof(OtaServerOptions),
                    [$"Repository name '{name}' is invalid: use letters, digits, '-', '_' and '.' (not starting with '.')."]);
            var root = Path.Combine(reposDir, name);
            if (EnsureArchiveRepository(root))
                LogCreated(logger, name, root);
            _roots[name] = root;
        }
    }

    public IReadOnlyCollection<string> Names => _roots.Keys;

    public bool TryGetRoot(string name, out string root) => _roots.TryGetValue(name, out root!);

    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name[0] != '.' &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Creates an empty archive repository at <paramref name="root"/> unless one is there. Returns true if created.</summary>
    public static bool EnsureArchiveRepository(string root)
    {
        var config = Path.Combine(root, "config");
        if (File.Exists(config))
        {
            // Leftovers of interrupted writers in it are removed at start by RepositoryReconciler.
            Directory.CreateDirectory(Path.Combine(root, StagingFolder));
            return false;
        }
        foreach (var d in new[] { "objects", "refs/heads", "refs/mirrors", "refs/remotes", "deltas", "delta-indexes", StagingFolder })
            Directory.CreateDirectory(Path.Combine(root, d));
        var temp = Path.Combine(root, StagingFolder, "config." + Guid.NewGuid().ToString("N"));
        File.WriteAllText(temp, "[core]\nrepo_version=1\nmode=archive-z2\n");
        File.Move(temp, config, overwrite: false);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created archive repository {Name} at {Root}")]
    private static partial void LogCreated(ILogger logger, string name, string root);
}
