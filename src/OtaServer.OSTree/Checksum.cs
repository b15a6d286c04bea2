using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OtaServer.OSTree;

/// <summary>A SHA-256 object checksum (32 bytes). Text form is 64 lowercase hex characters (also in JSON).</summary>
[JsonConverter(typeof(ChecksumJsonConverter))]
public readonly struct Checksum : IEquatable<Checksum>, IComparable<Checksum>
{
    public const int Size = 32;
    public const int HexLength = 64;

    private static readonly byte[] Zero = new byte[Size];

    // Private and never mutated, so the struct is immutable; default(Checksum) reads as 32 zero bytes.
    private readonly byte[]? _bytes;

    private Checksum(ReadOnlySpan<byte> bytes)
    {
        _bytes = bytes.ToArray();
    }

    /// <summary>Creates a checksum from exactly 32 raw bytes.</summary>
    public static Checksum FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            throw new FormatException($"A checksum is {Size} bytes, got {bytes.Length}.");
        return new Checksum(bytes);
    }

    /// <summary>SHA-256 of <paramref name="data"/>.</summary>
    public static Checksum Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[Size];
        SHA256.HashData(data, hash);
        return new Checksum(hash);
    }

    /// <summary>SHA-256 of the rest of <paramref name="stream"/>.</summary>
    public static Checksum Compute(Stream stream)
    {
        Span<byte> hash = stackalloc byte[Size];
        SHA256.HashData(stream, hash);
        return new Checksum(hash);
    }

    public static Checksum Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        if (!TryParse(hex, out var c))
            throw new FormatException($"'{Truncate(hex)}' is not a 64-character hex SHA-256 checksum.");
        return c;
    }

    public static bool TryParse([NotNullWhen(true)] string? hex, out Checksum checksum) => TryParse(hex.AsSpan(), out checksum);

    /// <summary>Parses 64 hex characters (either case).</summary>
    public static bool TryParse(ReadOnlySpan<char> hex, out Checksum checksum)
    {
        checksum = default;
        if (hex.Length != HexLength)
            return false;
        Span<byte> b = stackalloc byte[Size];
        for (int i = 0; i < Size; i++)
        {
            int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return false;
            b[i] = (byte)((hi << 4) | lo);
        }
        checksum = new Checksum(b);
        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>The 32 raw bytes.</summary>
    public ReadOnlySpan<byte> AsSpan() => _bytes ?? Zero;

    public byte[] ToArray() => AsSpan().ToArray();

    public void CopyTo(Span<byte> destination) => AsSpan().CopyTo(destination);

    /// <summary>64 lowercase hex characters.</summary>
    public override string ToString() => Convert.ToHexStringLower(AsSpan());

    /// <summary>Modified base64 as used in delta paths: base64 without '=' and with '/' replaced by '_'.</summary>
    public string ToMb64() => Convert.ToBase64String(AsSpan()).TrimEnd('=').Replace('/', '_');

    public static Checksum FromMb64(string mb64)
    {
        if (!TryFromMb64(mb64, out var c))
            throw new FormatException($"'{Truncate(mb64)}' is not a 43-character modified-base64 checksum.");
        return c;
    }

    public static bool TryFromMb64([NotNullWhen(true)] string? mb64, out Checksum checksum)
    {
        checksum = default;
        if (mb64 is null || mb64.Length != 43 || mb64.Contains('/') || mb64.Contains('='))
            return false;
        Span<byte> b = stackalloc byte[33];
        if (!Convert.TryFromBase64String(mb64.Replace('_', '/') + "=", b, out int written) || written != Size)
            return false;
        checksum = new Checksum(b[..Size]);
        // Reject non-canonical encodings (non-zero unused bits) so that the text form round-trips.
        return checksum.ToMb64() == mb64;
    }

    public bool Equals(Checksum other) => AsSpan().SequenceEqual(other.AsSpan());

    public override bool Equals(object? obj) => obj is Checksum other && Equals(other);

    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(AsSpan());

    public int CompareTo(Checksum other) => AsSpan().SequenceCompareTo(other.AsSpan());

    public static bool operator ==(Checksum left, Checksum right) => left.Equals(right);

    public static bool operator !=(Checksum left, Checksum right) => !left.Equals(right);

    public static bool operator <(Checksum left, Checksum right) => left.CompareTo(right) < 0;

    public static bool operator >(Checksum left, Checksum right) => left.CompareTo(right) > 0;

    public static bool operator <=(Checksum left, Checksum right) => left.CompareTo(right) <= 0;

    public static bool operator >=(Checksum left, Checksum right) => left.CompareTo(right) >= 0;

    private static string Truncate(string s) => s.Length > 80 ? s[..80] + "…" : s;
}

/// <summary>Reads and writes <see cref="Checksum"/> as a 64-character hex JSON string.</summary>
public sealed class ChecksumJsonConverter : JsonConverter<Checksum>
{
    public override Checksum Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var s = reader.GetString();
        return Checksum.TryParse(s, out var c) ? c : throw new JsonException($"'{s}' is not a 64-character hex checksum.");
    }

    public override void Write(Utf8JsonWriter writer, Checksum value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
