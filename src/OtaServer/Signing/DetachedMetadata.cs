using OtaServer.OSTree;

namespace OtaServer.Signing;

/// <summary>
/// A commit's detached metadata (<c>.commitmeta</c>, <c>a{sv}</c>): reading its <c>ostree.gpgsigs</c> (<c>aay</c>,
/// one binary OpenPGP signature each) and merging two versions so that no signature is ever lost.
/// </summary>
internal static class DetachedMetadata
{
    /// <summary>The signatures in <paramref name="commitMeta"/> (none when null or absent).</summary>
    /// <exception cref="FormatException">Not an <c>a{sv}</c>, or <c>ostree.gpgsigs</c> is not an <c>aay</c>.</exception>
    public static IReadOnlyList<ReadOnlyMemory<byte>> Signatures(byte[]? commitMeta)
    {
        if (commitMeta is null)
            return [];
        return Signatures(GVariant.Parse(GVariantType.VarDict, commitMeta));
    }

    private static IReadOnlyList<ReadOnlyMemory<byte>> Signatures(GVariant dict)
    {
        if (dict.Lookup(SummarySigner.GpgSigsKey) is not { } sigs)
            return [];
        if (sigs.Type != GVariantType.Parse("aay"))
            throw new FormatException($"'{SummarySigner.GpgSigsKey}' is a '{sigs.Type}', not an 'aay'.");
        return sigs.Items.Select(s => s.GetBytes()).ToList();
    }

    /// <summary>
    /// The metadata to store when <paramref name="incoming"/> arrives for a commit that has <paramref name="existing"/>:
    /// every signature of both (existing first, duplicates once), and the other keys of both (incoming wins on a
    /// key both have). Returns <paramref name="existing"/>'s bytes unchanged when the merge adds nothing.
    /// </summary>
    /// <exception cref="FormatException">Either side is not valid detached metadata.</exception>
    public static byte[] Merge(byte[] existing, byte[] incoming)
    {
        var old = GVariant.Parse(GVariantType.VarDict, existing);
        var add = GVariant.Parse(GVariantType.VarDict, incoming);
        var oldSigs = Signatures(old);
        var sigs = new List<ReadOnlyMemory<byte>>();
        foreach (var s in oldSigs.Concat(Signatures(add)))
        {
            if (!sigs.Any(k => k.Span.SequenceEqual(s.Span)))
                sigs.Add(s);
        }

        var changed = sigs.Count > oldSigs.Count;

        var entries = new List<KeyValuePair<string, GVariant>>();
        foreach (var (key, value) in old.DictEntries())
        {
            if (key == SummarySigner.GpgSigsKey)
                continue;
            var replacement = add.Lookup(key);
            changed |= replacement is not null && !replacement.Equals(value);
            entries.Add(KeyValuePair.Create(key, replacement ?? value));
        }
        foreach (var (key, value) in add.DictEntries())
        {
            if (key != SummarySigner.GpgSigsKey && old.Lookup(key) is null)
            {
                entries.Add(KeyValuePair.Create(key, value));
                changed = true;
            }
        }
        if (!changed)
            return existing;
        if (sigs.Count > 0)
            entries.Add(KeyValuePair.Create(SummarySigner.GpgSigsKey, GVariant.ByteArrayArray(sigs)));
        return GVariant.VarDict(entries).Serialize();
    }
}
