using System.Globalization;

namespace OtaCtl;

/// <summary>Left-aligned text tables and the small formats otactl prints.</summary>
internal static class Table
{
    public static void Write(TextWriter writer, string[] headers, IEnumerable<string?[]> rows)
    {
        var all = new List<string?[]> { headers };
        all.AddRange(rows);
        var widths = new int[headers.Length];
        foreach (var row in all)
        {
            for (var i = 0; i < headers.Length; i++)
                widths[i] = Math.Max(widths[i], (row.ElementAtOrDefault(i) ?? "").Length);
        }

        foreach (var row in all)
        {
            var cells = Enumerable.Range(0, headers.Length).Select(i => (row.ElementAtOrDefault(i) ?? "").PadRight(widths[i]));
            writer.WriteLine(string.Join("  ", cells).TrimEnd());
        }
    }

    public static string Time(DateTimeOffset? t) =>
        t is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "-";

    public static string Short(string? commit) => commit is null ? "-" : commit.Length > 12 ? commit[..12] : commit;

    public static string List(IEnumerable<string>? items) => items is null || !items.Any() ? "-" : string.Join(",", items);

    public static string Num(long? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
