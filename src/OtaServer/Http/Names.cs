using System.Text.RegularExpressions;

namespace OtaServer.Http;

/// <summary>The naming rules of the fleet API, with messages a person can act on.</summary>
internal static partial class Names
{
    public const string TagRule = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters";
    public const string HardwareRule = "letters, digits, '.', '_', ':', '+' and '-', starting with a letter or digit, at most 128 characters";
    public const string DeviceRule = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex TagRegex();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")]
    private static partial Regex HardwareRegex();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex DeviceRegex();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")]
    private static partial Regex RefRegex();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex CommitRegex();

    public static bool IsTag(string? s) => s is not null && TagRegex().IsMatch(s);

    public static bool IsHardwareId(string? s) => s is not null && HardwareRegex().IsMatch(s);

    public static bool IsDeviceName(string? s) => s is not null && DeviceRegex().IsMatch(s);

    public static bool IsRef(string? s) => s is { Length: <= 255 } && RefRegex().IsMatch(s);

    public static bool IsCommit(string? s) => s is not null && CommitRegex().IsMatch(s);

    /// <summary>The first invalid tag, with the rule, or null when all are valid.</summary>
    public static string? CheckTags(IEnumerable<string?> tags, string field = "tag")
    {
        foreach (var t in tags)
        {
            if (!IsTag(t))
                return $"Invalid {field} '{t}': use {TagRule}.";
        }

        return null;
    }

    public static string? CheckHardwareIds(IEnumerable<string?> ids, string field = "hardware id")
    {
        foreach (var h in ids)
        {
            if (!IsHardwareId(h))
                return $"Invalid {field} '{h}': use {HardwareRule}.";
        }

        return null;
    }
}
