using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using OtaServer.Configuration;
using OtaServer.Repositories.Storage;

namespace OtaServer.Repositories;

/// <summary>
/// The served repositories: one <see cref="Repository"/> per configured name, each in a folder under
/// <c>&lt;DataDir&gt;/repos/</c>. Creates each configured repository (archive mode, with <c>config</c>) if it is absent.
/// </summary>
public sealed partial class RepositoryRegistry
{
    public const string DefaultRepository = "main";

    private readonly Dictionary<string, Repository> _repositories = new(StringComparer.Ordinal);

    public RepositoryRegistry(IOptions<OtaServerOptions> options, TimeProvider time, ISummarySigner signer, SummaryPairs pairs,
        ILoggerFactory loggers)
    {
        var o = options.Value;
        var reposDir = Path.Combine(o.FullDataDir, "repos");
        Directory.CreateDirectory(reposDir);
        var names = new List<string> { DefaultRepository };
        names.AddRange(o.Repositories);
        var logger = loggers.CreateLogger<RepositoryRegistry>();
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (!IsValidName(name))
            {
                throw new OptionsValidationException(OtaServerOptions.SectionName, typeof(OtaServerOptions),
                    [$"Repository name '{name}' is invalid: use letters, digits, '-', '_' and '.' (not starting with '.')."]);
            }

            var storage = new LocalFolderStorage(Path.Combine(reposDir, name));
            if (EnsureArchiveRepository(storage))
                LogCreated(logger, name, storage.Location);
            _repositories[name] = new Repository(name, storage, time, signer, pairs, loggers.CreateLogger<Repository>());
        }
    }

    public IReadOnlyCollection<string> Names => _repositories.Keys;

    public IEnumerable<Repository> All => _repositories.Values;

    public bool TryGet(string name, [NotNullWhen(true)] out Repository? repository) => _repositories.TryGetValue(name, out repository);

    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 64 && name[0] != '.' &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Creates an empty archive repository in <paramref name="storage"/> unless one is there. Returns true if created.</summary>
    private static bool EnsureArchiveRepository(IRepositoryStorage storage) =>
        // Leftovers of interrupted writers in an existing one are removed at start by RepositoryReconciler.
        !storage.Exists("config") &&
        storage.PutImmutable("config", "[core]\nrepo_version=1\nmode=archive-z2\n"u8) == PutOutcome.Created;

    [LoggerMessage(Level = LogLevel.Information, Message = "Created archive repository {Name} at {Location}")]
    private static partial void LogCreated(ILogger logger, string name, string location);
}
