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
/// Read access to an OSTree archive repository on disk (§3): config, refs, objects, deltas.
/// Thread-safe (stateless apart from the root path).
/// </summary>
public sealed partial class ArchiveRepository
{
    public ArchiveRepository(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string ConfigPath => Path.Combine(Root, "config");

    /// <summary>Reads and parses <c>config</c>.</summary>
    /// <exception cref="FileNotFoundException">No config (not a repository).</exception>
    public RepoConfig ReadConfig() => RepoConfig.Load(ConfigPath);

    /// <summary>True if <c>config</c> exists and core.mode is archive-z2 or archive.</summary>
    public bool IsArchive
    {
        get
        {
            try
            {
                return File.Exists(ConfigPath) && ReadConfig().IsArchive;
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

    public string ObjectPath(ObjectName name) => Path.Combine(Root, name.RelativePath);

    public bool HasObject(ObjectName name) => File.Exists(ObjectPath(name));

    /// <exception cref="FileNotFoundException">The object is not in the repository.</exception>
    public FileStream OpenObject(ObjectName name) =>
        new(ObjectPath(name), FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan);

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
        using var fs = new FileStream(ObjectPath(new ObjectName(file, ObjectType.File)), FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        return ContentObject.ReadArchiveHeader(fs);
    }

    /// <summary>Every object file under objects/ (files with other names, e.g. temp files, are skipped).</summary>
    public IEnumerable<ObjectName> EnumerateObjects()
    {
        var objects = Path.Combine(Root, "objects");
        if (!Directory.Exists(objects))
            yield break;
        foreach (var dir in Directory.EnumerateDirectories(objects))
        {
            foreach (var file in Directory.EnumerateFiles(dir))
            {
                if (ObjectName.TryParseRelativePath(file, out var name))
                    yield return name;
            }
        }
    }

    /// <summary>The parsed <c>summary</c>, or null if the repository has none.</summary>
    /// <exception cref="FormatException">The summary is corrupt.</exception>
    public Summary? ReadSummary()
    {
        var path = Path.Combine(Root, "summary");
        return File.Exists(path) ? Summary.Parse(File.ReadAllBytes(path)) : null;
    }

    // ---------------------------------------------------------------- refs

    /// <summary>
    /// ostree's ref grammar (<c>ostree_validate_rev</c>): fragments <c>[\w\d][-._\w\d]*</c> joined by '/',
    /// ASCII only, at most 255 characters. No fragment can be "." or "..", so a ref never leaves refs/heads.
    /// </summary>
    public static bool IsValidRefName(string? name) => name is { Length: > 0 and <= 255 } && RefNameRegex().IsMatch(name);

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9_][-._A-Za-z0-9]*(/[A-Za-z0-9_][-._A-Za-z0-9]*)*$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex RefNameRegex();

    public string RefPath(string refName)
    {
        if (!IsValidRefName(refName))
            throw new ArgumentException($"'{refName}' is not a valid ref name.", nameof(refName));
        return Path.Combine(Root, "refs", "heads", refName);
    }

    /// <summary>The commit a ref under refs/heads points to, or null if the ref does not exist.</summary>
    /// <exception cref="FormatException">The ref file does not hold a checksum.</exception>
    public Checksum? ResolveRef(string refName)
    {
        var path = RefPath(refName);
        if (!File.Exists(path))
            return null;
        var text = File.ReadAllText(path).Trim();
        if (!Checksum.TryParse(text, out var c))
            throw new FormatException($"Ref '{refName}' does not contain a checksum.");
        return c;
    }

    /// <summary>All refs under refs/heads (nested folders give names with '/'), sorted bytewise. Unreadable refs are skipped.</summary>
    public IReadOnlyList<RefEntry> ListRefs()
    {
        var heads = Path.Combine(Root, "refs", "heads");
        if (!Directory.Exists(heads))
            return [];
        var result = new List<RefEntry>();
        foreach (var file in Directory.EnumerateFiles(heads, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(heads, file).Replace(Path.DirectorySeparatorChar, '/');
            if (!IsValidRefName(name) || name.Split('/').Any(s => s.StartsWith('.')))
                continue; // temp files of writers
            if (Checksum.TryParse(File.ReadAllText(file).Trim(), out var c))
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
        var deltas = Path.Combine(Root, "deltas");
        if (!Directory.Exists(deltas))
            return [];
        var result = new List<DeltaName>();
        foreach (var prefix in Directory.EnumerateDirectories(deltas))
        {
            foreach (var dir in Directory.EnumerateDirectories(prefix))
            {
                var rel = "deltas/" + Path.GetFileName(prefix) + "/" + Path.GetFileName(dir);
                if (File.Exists(Path.Combine(dir, "superblock")) && DeltaName.TryParseRelativePath(rel, out var name))
                    result.Add(name);
            }
        }
        result.Sort((a, b) => string.CompareOrdinal(a.ToString(), b.ToString()));
        return result;
    }

    /// <summary>Full path of a delta's superblock.</summary>
    public string DeltaSuperblockPath(DeltaName delta) => Path.Combine(Root, delta.SuperblockRelativePath);

    /// <summary>Deltas on disk with the SHA-256 of their superblock, ready for <see cref="SummaryWriter"/> / <see cref="DeltaIndex"/>.</summary>
    public IReadOnlyList<SummaryDelta> ListDeltasWithDigests()
    {
        var list = new List<SummaryDelta>();
        foreach (var d in ListDeltas())
        {
            using var fs = File.OpenRead(DeltaSuperblockPath(d));
            list.Add(new SummaryDelta(d, Checksum.Compute(fs)));
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
