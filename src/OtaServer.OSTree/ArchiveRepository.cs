namespace OtaServer.OSTree;

/// <summary>A ref under refs/heads.</summary>
public sealed record RefEntry(string Name, Checksum Commit);

/// <summary>Everything reachable from one commit (no parents).</summary>
/// <param name="Present">Reachable objects found on disk, in discovery order (commit, commitmeta if present, dirmeta, dirtree, …).</param>
/// <param name="Missing">Reachable objects that are not on disk. Subtrees below a missing dirtree are unknown.</param>
public sealed record CommitWalk(IReadOnlyList<ObjectName> Present, IReadOnlyList<ObjectName> Missing)
{
    public bool IsComplete => Missing.Count == 0;
}

/// <summary>One entry of a tree walk.</summary>
/// <param name="Path">Path relative to the tree root, '/'-separated, no leading slash ("" for the root).</param>
/// <param name="Object">File object (type File) or dirtree (type DirTree).</param>
/// <param name="DirMeta">For directories, the dirmeta checksum; null for files.</param>
/// <param name="Size">For files when sizes were requested: the content size from the .filez header (0 for symlinks); else null.</param>
/// <param name="Header">For files when sizes were requested: the file header; else null.</param>
public sealed record TreeEntry(string Path, ObjectName Object, Checksum? DirMeta, long? Size, FileHeader? Header)
{
    public bool IsDirectory => Object.Type == ObjectType.DirTree;

    /// <summary>Last path component.</summary>
    public string Name => Path[(Path.LastIndexOf('/') + 1)..];
}

/// <summary>
/// Read access to an OSTree archive repository (§3): config, refs, objects, deltas, through an
/// <see cref="IArchiveStore"/> (a local folder unless another store is given). Thread-safe (stateless apart from the store).
/// </summary>
public sealed partial class ArchiveRepository
{
    private readonly LocalArchiveStore? _local;

    /// <summary>The repository in the local folder <paramref name="root"/>.</summary>
    public ArchiveRepository(string root) : this(new LocalArchiveStore(root))
    {
    }

    public ArchiveRepository(IArchiveStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Store = store;
        _local = store as LocalArchiveStore;
    }

    /// <summary>Where the files are read from.</summary>
    public IArchiveStore Store { get; }

    /// <summary>The local folder of the repository (only for repositories in a local folder: tools and tests).</summary>
    public string Root => _local?.Root ?? throw new NotSupportedException("This repository is not stored in a local folder.");

    public string ConfigPath => Path.Combine(Root, "config");

    /// <summary>Reads and parses <c>config</c>.</summary>
    /// <exception cref="FileNotFoundException">No config (not a repository).</exception>
    public RepoConfig ReadConfig()
    {
        using var stream = Store.OpenRead("config") ?? throw new FileNotFoundException("The repository has no config file.", "config");
        using var reader = new StreamReader(stream);
        return RepoConfig.Parse(reader.ReadToEnd());
    }

    /// <summary>True if <c>config</c> exists and core.mode is archive-z2 or archive.</summary>
    public bool IsArchive
    {
        get
        {
            try
            {
                return Store.Exists("config") && ReadConfig().IsArchive;
            }
            catch (FormatException)
            {
                return false;
            }
        }
    }

    /// <summary>Creates the folders and config of an empty archive repository (like <c>ostree init --mode=archive</c>).</summary>
    public static ArchiveRepository Create(string root)
    {
        var repo = new ArchiveRepository(root);
        foreach (var d in new[] { "objects", "refs/heads", "refs/mirrors", "refs/remotes", "tmp", "state", "extensions" })
            Directory.CreateDirectory(Path.Combine(repo.Root, d));
        if (!File.Exists(repo.ConfigPath))
            RepoConfig.CreateArchive().Save(repo.ConfigPath);
        return repo;
    }

    /// <summary>The file of an object (local folder only).</summary>
    public string ObjectPath(ObjectName name) => Path.Combine(Root, name.RelativePath);

    public bool HasObject(ObjectName name) => Store.Exists(name.RelativePath);

    /// <exception cref="FileNotFoundException">The object is not in the repository.</exception>
    public Stream OpenObject(ObjectName name) =>
        Store.OpenRead(name.RelativePath) ?? throw new FileNotFoundException($"The repository has no object {name}.", name.RelativePath);

    /// <summary>Raw bytes of a metadata object (bounded by <see cref="ObjectVerifier.MaxMetadataSize"/>).</summary>
    /// <exception cref="FileNotFoundException">Missing.</exception>
    /// <exception cref="InvalidObjectException">Larger than the metadata limit.</exception>
    public byte[] ReadMetadata(ObjectName name)
    {
        if (!name.Type.IsMetadata())
            throw new ArgumentException($"{name} is a content object.", nameof(name));
        using var fs = OpenObject(name);
        if (fs.Length > ObjectVerifier.MaxMetadataSize)
            throw new InvalidObjectException(name, $"{fs.Length} bytes exceeds the metadata limit.");
        var buf = new byte[fs.Length];
        fs.ReadExactly(buf);
        return buf;
    }

    /// <exception cref="FileNotFoundException">Missing.</exception>
    /// <exception cref="FormatException">Corrupt.</exception>
    public Commit ReadCommit(Checksum commit) => Commit.Parse(ReadMetadata(new ObjectName(commit, ObjectType.Commit)));

    public DirTree ReadDirTree(Checksum tree) => DirTree.Parse(ReadMetadata(new ObjectName(tree, ObjectType.DirTree)));

    public DirMeta ReadDirMeta(Checksum meta) => DirMeta.Parse(ReadMetadata(new ObjectName(meta, ObjectType.DirMeta)));

    /// <summary>Detached metadata bytes of a commit, or null if there is no .commitmeta.</summary>
    public byte[]? ReadCommitMeta(Checksum commit)
    {
        var name = new ObjectName(commit, ObjectType.CommitMeta);
        return HasObject(name) ? ReadMetadata(name) : null;
    }

    /// <summary>Opens a content object: header, declared size, and the inflated content stream.</summary>
    /// <exception cref="FileNotFoundException">Missing.</exception>
    public ArchiveContentReader ReadContent(Checksum file) => ContentObject.OpenArchive(OpenObject(new ObjectName(file, ObjectType.File)));

    /// <summary>Reads only the .filez header (cheap): header and declared content size.</summary>
    public (FileHeader Header, ulong Size) ReadContentHeader(Checksum file)
    {
        using var fs = OpenObject(new ObjectName(file, ObjectType.File));
        return ContentObject.ReadArchiveHeader(fs);
    }

    /// <summary>Every object file under objects/ (files with other names, e.g. temp files, are skipped).</summary>
    public IEnumerable<ObjectName> EnumerateObjects()
    {
        foreach (var key in Store.List("objects/"))
        {
            if (ObjectName.TryParseRelativePath(key, out var name))
                yield return name;
        }
    }

    /// <summary>The parsed <c>summary</c>, or null if the repository has none.</summary>
    /// <exception cref="FormatException">The summary is corrupt.</exception>
    public Summary? ReadSummary()
    {
        using var stream = Store.OpenRead("summary");
        if (stream is null)
            return null;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Summary.Parse(copy.ToArray());
    }

    // ---------------------------------------------------------------- refs

    /// <summary>
    /// ostree's ref grammar (<c>ostree_validate_rev</c>): fragments <c>[\w\d][-._\w\d]*</c> joined by '/',
    /// ASCII only, at most 255 characters. No fragment can be "." or "..", so a ref never leaves refs/heads.
    /// </summary>
    public static bool IsValidRefName(string? name) => name is { Length: > 0 and <= 255 } && RefNameRegex().IsMatch(name);

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9_][-._A-Za-z0-9]*(/[A-Za-z0-9_][-._A-Za-z0-9]*)*$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex RefNameRegex();

    /// <summary>The key of a ref under refs/heads.</summary>
    public static string RefKey(string refName)
    {
        if (!IsValidRefName(refName))
            throw new ArgumentException($"'{refName}' is not a valid ref name.", nameof(refName));
        return "refs/heads/" + refName;
    }

    /// <summary>The commit a ref under refs/heads points to, or null if the ref does not exist.</summary>
    /// <exception cref="FormatException">The ref file does not hold a checksum.</exception>
    public Checksum? ResolveRef(string refName)
    {
        using var stream = Store.OpenRead(RefKey(refName));
        if (stream is null)
            return null;
        var text = new StreamReader(stream).ReadToEnd().Trim();
        if (!Checksum.TryParse(text, out var c))
            throw new FormatException($"Ref '{refName}' does not contain a checksum.");
        return c;
    }

    /// <summary>All refs under refs/heads (nested folders give names with '/'), sorted bytewise. Unreadable refs are skipped.</summary>
    public IReadOnlyList<RefEntry> ListRefs()
    {
        const string heads = "refs/heads/";
        var result = new List<RefEntry>();
        foreach (var key in Store.List(heads))
        {
            var name = key[heads.Length..];
            if (!IsValidRefName(name))
                continue;
            using var stream = Store.OpenRead(key);
            if (stream is not null && Checksum.TryParse(new StreamReader(stream).ReadToEnd().Trim(), out var c))
                result.Add(new RefEntry(name, c));
        }
        result.Sort((a, b) => Utf8Ordinal.Instance.Compare(a.Name, b.Name));
        return result;
    }

    // ---------------------------------------------------------------- walks

    /// <summary>
    /// All objects reachable from <paramref name="commit"/> (the commit, its .commitmeta if present, every dirtree,
    /// dirmeta and file; parents excluded), each once, plus the reachable objects that are missing.
    /// </summary>
    /// <exception cref="FormatException">A metadata object is corrupt.</exception>
    /// <param name="onPresent">Called with each present object as soon as it is found (so a caller can start on
    /// the objects while the walk goes on).</param>
    public CommitWalk WalkCommit(Checksum commit, Action<ObjectName>? onPresent = null)
    {
        var present = new List<ObjectName>();
        var missing = new List<ObjectName>();
        var seen = new HashSet<ObjectName>();
        var commitName = new ObjectName(commit, ObjectType.Commit);
        seen.Add(commitName);
        if (!HasObject(commitName))
            return new CommitWalk(present, [commitName]);
        present.Add(commitName);
        onPresent?.Invoke(commitName);
        var meta = new ObjectName(commit, ObjectType.CommitMeta);
        if (HasObject(meta))
        {
            present.Add(meta);
            onPresent?.Invoke(meta);
        }
        WalkTree(ReadCommit(commit), present, missing, seen, onPresent);
        return new CommitWalk(present, missing);
    }

    /// <summary>The objects a commit's tree references that this repository lacks (the commit object itself need not be stored).</summary>
    public IReadOnlyList<ObjectName> MissingFromTree(Commit commit)
    {
        var missing = new List<ObjectName>();
        WalkTree(commit, [], missing, [], null);
        return missing;
    }

    private void WalkTree(Commit c, List<ObjectName> present, List<ObjectName> missing, HashSet<ObjectName> seen, Action<ObjectName>? onPresent)
    {
        var stack = new Stack<(Checksum Tree, Checksum Meta)>();
        stack.Push((c.RootDirTree, c.RootDirMeta));
        while (stack.Count > 0)
        {
            var (tree, dirMeta) = stack.Pop();
            Visit(new ObjectName(dirMeta, ObjectType.DirMeta));
            var treeName = new ObjectName(tree, ObjectType.DirTree);
            if (!Visit(treeName))
                continue;
            var dt = ReadDirTree(tree);
            foreach (var f in dt.Files)
                Visit(new ObjectName(f.Checksum, ObjectType.File));
            for (int i = dt.Dirs.Count - 1; i >= 0; i--)
                stack.Push((dt.Dirs[i].Tree, dt.Dirs[i].Meta));
        }

        // Returns true if the object is new and present (so a dirtree should be descended).
        bool Visit(ObjectName n)
        {
            if (!seen.Add(n))
                return false;
            if (HasObject(n))
            {
                present.Add(n);
                onPresent?.Invoke(n);
                return true;
            }
            missing.Add(n);
            return false;
        }
    }

    /// <summary>
    /// Depth-first walk of a commit's tree in dirtree order, yielding the root ("" path, a directory), every
    /// directory and every file (files of a directory before its subdirectories). With <paramref name="withFileSizes"/>
    /// each file's .filez header is read for its size and header.
    /// </summary>
    /// <exception cref="FileNotFoundException">The commit or a dirtree (or, with sizes, a file) is missing.</exception>
    public IEnumerable<TreeEntry> WalkTree(Checksum commit, bool withFileSizes = false)
    {
        var c = ReadCommit(commit);
        var stack = new Stack<(string Path, Checksum Tree, Checksum Meta)>();
        stack.Push(("", c.RootDirTree, c.RootDirMeta));
        while (stack.Count > 0)
        {
            var (path, tree, dirMeta) = stack.Pop();
            yield return new TreeEntry(path, new ObjectName(tree, ObjectType.DirTree), dirMeta, null, null);
            var dt = ReadDirTree(tree);
            foreach (var f in dt.Files)
            {
                var fp = path.Length == 0 ? f.Name : path + "/" + f.Name;
                var fname = new ObjectName(f.Checksum, ObjectType.File);
                if (withFileSizes)
                {
                    var (h, size) = ReadContentHeader(f.Checksum);
                    yield return new TreeEntry(fp, fname, null, (long)size, h);
                }
                else
                {
                    yield return new TreeEntry(fp, fname, null, null, null);
                }
            }
            for (int i = dt.Dirs.Count - 1; i >= 0; i--)
            {
                var d = dt.Dirs[i];
                stack.Push((path.Length == 0 ? d.Name : path + "/" + d.Name, d.Tree, d.Meta));
            }
        }
    }

    // ---------------------------------------------------------------- deltas

    /// <summary>Every delta with a superblock on disk (deltas/*/*/superblock), sorted by name.</summary>
    public IReadOnlyList<DeltaName> ListDeltas()
    {
        const string superblock = "/superblock";
        var result = new List<DeltaName>();
        foreach (var key in Store.List("deltas/"))
        {
            if (key.EndsWith(superblock, StringComparison.Ordinal) && DeltaName.TryParseRelativePath(key[..^superblock.Length], out var name)
                && name.SuperblockRelativePath == key)
            {
                result.Add(name);
            }
        }
        result.Sort((a, b) => string.CompareOrdinal(a.ToString(), b.ToString()));
        return result;
    }

    /// <summary>SHA-256 of a delta's superblock (what the summary and delta index list), or null if it has none.</summary>
    public Checksum? DigestSuperblock(DeltaName delta)
    {
        using var stream = Store.OpenRead(delta.SuperblockRelativePath);
        return stream is null ? null : Checksum.Compute(stream);
    }

    /// <summary>Deltas on disk with the SHA-256 of their superblock, ready for <see cref="SummaryWriter"/> / <see cref="DeltaIndex"/>.</summary>
    public IReadOnlyList<SummaryDelta> ListDeltasWithDigests()
    {
        var list = new List<SummaryDelta>();
        foreach (var d in ListDeltas())
        {
            if (DigestSuperblock(d) is { } digest)
                list.Add(new SummaryDelta(d, digest));
        }
        return list;
    }

    /// <summary>Summary ref entries for every ref (commit size, timestamp, version read from the commits).</summary>
    public IReadOnlyList<SummaryRef> ListSummaryRefs()
    {
        var list = new List<SummaryRef>();
        foreach (var r in ListRefs())
        {
            var bytes = ReadMetadata(new ObjectName(r.Commit, ObjectType.Commit));
            var c = Commit.Parse(bytes);
            list.Add(new SummaryRef(r.Name, r.Commit, (ulong)bytes.Length, c.Timestamp, c.Version));
        }
        return list;
    }
}
