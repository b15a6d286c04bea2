namespace OtaServer.Serving;

/// <summary>
/// ostree's "modified base64" of a checksum (spec §1): standard base64 of the 32 bytes, '=' dropped,
/// '/' replaced by '_' ('+' stays). Used in delta folder names.
/// </summary>
internal static class ModifiedBase64
{
    public const int ChecksumLength = 43;

    public static string Encode(ReadOnlySpan<byte> checksum) =>
        Convert.ToBase64String(checksum).TrimEnd('=').Replace('/', '_');

    /// <summary>Decodes 43 mb64 characters into 32 bytes.</summary>
    public static bool TryDecodeChecksum(ReadOnlySpan<char> mb64, Span<byte> checksum)
    {
        if (mb64.Length != ChecksumLength || checksum.Length < 32)
            return false;
        Span<char> base64 = stackalloc char[ChecksumLength + 1];
        for (var i = 0; i < ChecksumLength; i++)
        {
            var c = mb64[i];
            if (c == '/')
                return false;
            base64[i] = c == '_' ? '/' : c;
        }
        base64[ChecksumLength] = '=';
        return Convert.TryFromBase64Chars(base64, checksum, out var written) && written == 32;
    }

    /// <summary>
    /// The target commit (64 lowercase hex) of a delta folder below <c>deltas/</c>:
    /// <c>AA/BBB…-TTT…</c> (from→to, T is the full mb64) or <c>TT/TTT…</c> (scratch).
    /// </summary>
    public static string? TargetOfDeltaFolder(ReadOnlySpan<char> folder)
    {
        if (folder.Length < 4 || folder[2] != '/')
            return null;
        var name = folder[3..];
        Span<char> to = stackalloc char[ChecksumLength];
        var dash = name.IndexOf('-');
        if (dash >= 0)
        {
            var target = name[(dash + 1)..];
            if (target.Length != ChecksumLength)
                return null;
            target.CopyTo(to);
        }
        else
        {
            if (name.Length != ChecksumLength - 2)
                return null;
            folder[..2].CopyTo(to);
            name.CopyTo(to[2..]);
        }
        Span<byte> checksum = stackalloc byte[32];
        return TryDecodeChecksum(to, checksum) ? Convert.ToHexStringLower(checksum) : null;
    }
}
