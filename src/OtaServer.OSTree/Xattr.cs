using System.Text;

namespace OtaServer.OSTree;

/// <summary>
/// One extended attribute as stored by OSTree: the name INCLUDING its trailing NUL byte, and the raw value.
/// Equality compares the bytes.
/// </summary>
public sealed class Xattr : IEquatable<Xattr>
{
    public Xattr(ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value)
    {
        Name = name;
        Value = value;
    }

    /// <summary>Name bytes as stored (normally ends with 00).</summary>
    public ReadOnlyMemory<byte> Name { get; }

    public ReadOnlyMemory<byte> Value { get; }

    /// <summary>The name without the trailing NUL, decoded as UTF-8.</summary>
    public string NameString => Encoding.UTF8.GetString(Name.Span.TrimEnd((byte)0));

    /// <summary>Creates an xattr from a name (a NUL is appended) and a raw value.</summary>
    public static Xattr Create(string name, ReadOnlyMemory<byte> value)
    {
        var n = new byte[Encoding.UTF8.GetByteCount(name) + 1];
        Encoding.UTF8.GetBytes(name, n);
        return new Xattr(n, value);
    }

    /// <summary>Type of an xattr list.</summary>
    public const string ListTypeString = "a(ayay)";

    /// <summary>An xattr list as <c>a(ayay)</c> (order kept), e.g. for a delta part's xattr table.</summary>
    public static GVariant ToGVariant(IReadOnlyList<Xattr> xattrs) =>
        GVariant.Array("(ayay)", xattrs.Select(x => GVariant.Tuple(GVariant.Bytes(x.Name), GVariant.Bytes(x.Value))));

    /// <summary>Reads an <c>a(ayay)</c> xattr list.</summary>
    public static Xattr[] FromGVariant(GVariant list) =>
        list.Items.Select(t => new Xattr(t[0].GetBytes(), t[1].GetBytes())).ToArray();

    internal static bool ListEquals(IReadOnlyList<Xattr> a, IReadOnlyList<Xattr> b) => a.SequenceEqual(b);

    public bool Equals(Xattr? other) =>
        other is not null && Name.Span.SequenceEqual(other.Name.Span) && Value.Span.SequenceEqual(other.Value.Span);

    public override bool Equals(object? obj) => Equals(obj as Xattr);

    public override int GetHashCode()
    {
        var hc = new HashCode();
        hc.AddBytes(Name.Span);
        hc.AddBytes(Value.Span);
        return hc.ToHashCode();
    }

    public override string ToString() => $"{NameString}={Convert.ToHexStringLower(Value.Span)}";
}
