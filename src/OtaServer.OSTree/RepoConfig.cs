using System.Text;

namespace OtaServer.OSTree;

/// <summary>
/// The repository <c>config</c> file, a GLib key file (INI). Parsing keeps every line (comments, unknown groups
/// and keys, order) so <see cref="ToString"/> round-trips; <see cref="Set"/> edits in place or appends.
/// Values are kept as raw text (GLib escapes such as \s are not interpreted; ostree's values never use them).
/// </summary>
public sealed class RepoConfig
{
    private readonly List<Line> _lines = [];

    private sealed record Line(string Text, string? Group, string? Key, string? Value);

    /// <summary>core.mode, e.g. "archive-z2".</summary>
    public string? Mode => Get("core", "mode");

    /// <summary>True when core.mode is "archive-z2" or "archive" (the only modes that can be served).</summary>
    public bool IsArchive => Mode is "archive-z2" or "archive";

    public bool IndexedDeltas
    {
        get => GetBoolean("core", "indexed-deltas") ?? false;
        set => Set("core", "indexed-deltas", value ? "true" : "false");
    }

    public bool TombstoneCommits => GetBoolean("core", "tombstone-commits") ?? false;

    /// <summary>What <c>ostree init --mode=archive</c> writes.</summary>
    public static RepoConfig CreateArchive() => Parse("[core]\nrepo_version=1\nmode=archive-z2\n");

    public static RepoConfig Load(string path) => Parse(File.ReadAllText(path));

    public static RepoConfig Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cfg = new RepoConfig();
        string? group = null;
        var lines = text.Split('\n');
        int count = text.EndsWith('\n') ? lines.Length - 1 : lines.Length;
        for (int i = 0; i < count; i++)
        {
            var raw = lines[i].TrimEnd('\r');
            var t = raw.Trim();
            if (t.Length == 0 || t[0] == '#')
            {
                cfg._lines.Add(new Line(raw, group, null, null));
                continue;
            }
            if (t[0] == '[')
            {
                if (!t.EndsWith(']'))
                    throw new FormatException($"config line {i + 1}: malformed group header '{t}'.");
                group = t[1..^1];
                cfg._lines.Add(new Line(raw, group, null, null));
                continue;
            }
            int eq = t.IndexOf('=');
            if (eq <= 0 || group is null)
                throw new FormatException($"config line {i + 1}: expected 'key=value' inside a [group], got '{t}'.");
            cfg._lines.Add(new Line(raw, group, t[..eq].TrimEnd(), t[(eq + 1)..].TrimStart()));
        }
        return cfg;
    }

    public IEnumerable<string> Groups => _lines.Where(l => l.Key is null && l.Text.TrimStart().StartsWith('[')).Select(l => l.Group!);

    /// <summary>The last value of group.key (GLib semantics: later duplicates win), or null.</summary>
    public string? Get(string group, string key) =>
        _lines.LastOrDefault(l => l.Group == group && l.Key == key)?.Value;

    public bool? GetBoolean(string group, string key) => Get(group, key) switch
    {
        null => null,
        "true" or "1" => true,
        "false" or "0" => false,
        var v => throw new FormatException($"config {group}.{key}='{v}' is not a boolean."),
    };

    /// <summary>Sets group.key, replacing the existing line or appending to the group (creating it if needed).</summary>
    public void Set(string group, string key, string value)
    {
        if (value.Contains('\n') || key.Contains('=') || key.Contains('\n'))
            throw new ArgumentException("Keys and values cannot contain newlines; keys cannot contain '='.");
        var line = new Line($"{key}={value}", group, key, value);
        int existing = _lines.FindLastIndex(l => l.Group == group && l.Key == key);
        if (existing >= 0)
        {
            _lines[existing] = line;
            return;
        }
        int lastInGroup = _lines.FindLastIndex(l => l.Group == group && (l.Key is not null || l.Text.TrimStart().StartsWith('[')));
        if (lastInGroup < 0)
        {
            _lines.Add(new Line($"[{group}]", group, null, null));
            _lines.Add(line);
        }
        else
        {
            _lines.Insert(lastInGroup + 1, line);
        }
    }

    public bool Remove(string group, string key) => _lines.RemoveAll(l => l.Group == group && l.Key == key) > 0;

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var l in _lines)
            sb.Append(l.Text).Append('\n');
        return sb.ToString();
    }

    /// <summary>Writes to a temp file in the same folder and renames it over <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        var full = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        File.WriteAllText(tmp, ToString(), new UTF8Encoding(false));
        File.Move(tmp, full, overwrite: true);
    }
}
