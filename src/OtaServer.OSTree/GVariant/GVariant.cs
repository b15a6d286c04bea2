using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace OtaServer.OSTree;

/// <summary>
/// An immutable GVariant value. Build values with the static factories (<see cref="Tuple"/>,
/// <see cref="Array(GVariantType, IEnumerable{GVariant})"/>, <see cref="VarDict(IEnumerable{KeyValuePair{string, GVariant}})"/>, …),
/// serialize with <see cref="Serialize"/> (always normal form), read with <see cref="Parse(GVariantType, ReadOnlyMemory{byte})"/>
/// and check normal form with <see cref="IsNormalForm"/>.
/// Integers are stored and serialized as given (little-endian on the wire); OSTree's big-endian fields
/// must be byte-swapped by the caller (the object models do this).
/// </summary>
public sealed partial class GVariant : IEquatable<GVariant>
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ulong _bits;
    private readonly string? _string;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly GVariant[]? _children;
    private readonly ReadOnlyMemory<byte>? _serialized;

    private GVariant(GVariantType type, ulong bits = 0, string? str = null, ReadOnlyMemory<byte> bytes = default,
        GVariant[]? children = null, ReadOnlyMemory<byte>? serialized = null)
    {
        Type = type;
        _bits = bits;
        _string = str;
        _bytes = bytes;
        _children = children;
        _serialized = serialized;
    }

    public GVariantType Type { get; }

    // ---------------------------------------------------------------- factories

    public static GVariant Byte(byte value) => new(GVariantType.Byte, value);

    public static GVariant Boolean(bool value) => new(GVariantType.Boolean, value ? 1UL : 0UL);

    public static GVariant Int16(short value) => new(GVariantType.Int16, (ushort)value);

    public static GVariant UInt16(ushort value) => new(GVariantType.UInt16, value);

    public static GVariant Int32(int value) => new(GVariantType.Int32, (uint)value);

    public static GVariant UInt32(uint value) => new(GVariantType.UInt32, value);

    public static GVariant Int64(long value) => new(GVariantType.Int64, (ulong)value);

    public static GVariant UInt64(ulong value) => new(GVariantType.UInt64, value);

    public static GVariant Double(double value) => new(GVariantType.Double, BitConverter.DoubleToUInt64Bits(value));

    /// <summary>A 'u' holding <paramref name="value"/> byte-swapped, so its wire bytes are big-endian.</summary>
    public static GVariant UInt32BigEndian(uint value) => UInt32(ToBigEndianBits(value));

    /// <summary>A 't' holding <paramref name="value"/> byte-swapped, so its wire bytes are big-endian.</summary>
    public static GVariant UInt64BigEndian(ulong value) => UInt64(ToBigEndianBits(value));

    public static GVariant String(string value) => new(GVariantType.String, str: CheckString(value));

    public static GVariant ObjectPath(string value) => new(GVariantType.ObjectPath, str: CheckString(value));

    public static GVariant Signature(string value) => new(GVariantType.Signature, str: CheckString(value));

    /// <summary>An 'ay' (byte array). The memory is referenced, not copied.</summary>
    public static GVariant Bytes(ReadOnlyMemory<byte> value) => new(GVariantType.ByteArray, bytes: value);

    /// <summary>A 'v' boxing <paramref name="value"/>.</summary>
    public static GVariant Variant(GVariant value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(GVariantType.Variant, children: [value]);
    }

    /// <summary>An array of <paramref name="elementType"/>; every item must have exactly that type.</summary>
    public static GVariant Array(GVariantType elementType, IEnumerable<GVariant> items)
    {
        ArgumentNullException.ThrowIfNull(elementType);
        var arr = items.ToArray();
        foreach (var item in arr)
        {
            if (item.Type != elementType)
                throw new ArgumentException($"Array of '{elementType}' cannot hold a '{item.Type}'.", nameof(items));
        }
        return new(GVariantType.ArrayOf(elementType), children: arr);
    }

    public static GVariant Array(string elementType, IEnumerable<GVariant> items) => Array(GVariantType.Parse(elementType), items);

    /// <summary>An 'as'.</summary>
    public static GVariant StringArray(IEnumerable<string> items) => Array(GVariantType.String, items.Select(String));

    /// <summary>An 'aay'.</summary>
    public static GVariant ByteArrayArray(IEnumerable<ReadOnlyMemory<byte>> items) => Array(GVariantType.ByteArray, items.Select(b => Bytes(b)));

    /// <summary>A maybe of <paramref name="elementType"/>: Nothing when <paramref name="value"/> is null.</summary>
    public static GVariant Maybe(GVariantType elementType, GVariant? value)
    {
        if (value is not null && value.Type != elementType)
            throw new ArgumentException($"Maybe of '{elementType}' cannot hold a '{value.Type}'.", nameof(value));
        return new(GVariantType.MaybeOf(elementType), children: value is null ? [] : [value]);
    }

    /// <summary>A tuple whose type is derived from the members.</summary>
    public static GVariant Tuple(params GVariant[] members)
    {
        ArgumentNullException.ThrowIfNull(members);
        return new(GVariantType.TupleOf(members.Select(m => m.Type)), children: (GVariant[])members.Clone());
    }

    public static GVariant DictEntry(GVariant key, GVariant value)
    {
        if (!key.Type.IsBasic)
            throw new ArgumentException("Dict entry keys must be basic types.", nameof(key));
        return new(GVariantType.DictEntryOf(key.Type, value.Type), children: [key, value]);
    }

    /// <summary>An 'a{sv}' with entries in the given order; values are boxed into 'v' (pass unboxed values).</summary>
    public static GVariant VarDict(IEnumerable<KeyValuePair<string, GVariant>> entries) =>
        Array(GVariantType.Parse("{sv}"), entries.Select(e => DictEntry(String(e.Key), Variant(e.Value))));

    /// <summary>An 'a{sv}' with entries in the given order; values are boxed into 'v' (pass unboxed values).</summary>
    public static GVariant VarDict(params (string Key, GVariant Value)[] entries) =>
        VarDict(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)));

    /// <summary>The empty 'a{sv}' (serializes to zero bytes).</summary>
    public static GVariant EmptyVarDict() => VarDict(Enumerable.Empty<KeyValuePair<string, GVariant>>());

    // ---------------------------------------------------------------- accessors

    public byte GetByte() => (byte)Expect('y')._bits;

    public bool GetBoolean() => Expect('b')._bits != 0;

    public short GetInt16() => (short)Expect('n')._bits;

    public ushort GetUInt16() => (ushort)Expect('q')._bits;

    public int GetInt32() => (int)Expect('i')._bits;

    public uint GetUInt32() => (uint)Expect('u')._bits;

    public long GetInt64() => (long)Expect('x')._bits;

    public ulong GetUInt64() => Expect('t')._bits;

    public double GetDouble() => BitConverter.UInt64BitsToDouble(Expect('d')._bits);

    /// <summary>A 'u' whose wire bytes are big-endian, decoded.</summary>
    public uint GetUInt32BigEndian() => ToBigEndianBits(GetUInt32());

    /// <summary>A 't' whose wire bytes are big-endian, decoded.</summary>
    public ulong GetUInt64BigEndian() => ToBigEndianBits(GetUInt64());

    /// <summary>Value of an 's', 'o' or 'g'.</summary>
    public string GetString()
    {
        if (_string is null)
            throw new InvalidOperationException($"A '{Type}' is not a string.");
        return _string;
    }

    /// <summary>Bytes of an 'ay'.</summary>
    public ReadOnlyMemory<byte> GetBytes()
    {
        if (Type != GVariantType.ByteArray)
            throw new InvalidOperationException($"A '{Type}' is not an 'ay'.");
        return _bytes;
    }

    /// <summary>The value boxed in a 'v'.</summary>
    public GVariant GetVariant() => Expect('v')._children![0];

    /// <summary>The value of a maybe, or null for Nothing.</summary>
    public GVariant? GetMaybe() => Expect('m')._children!.Length == 0 ? null : _children![0];

    /// <summary>Number of children: array items, tuple/dict-entry members (0 for 'ay' — use <see cref="GetBytes"/>).</summary>
    public int Count => _children?.Length ?? 0;

    /// <summary>Array items or tuple/dict-entry members. For 'ay' the items are materialized as 'y' values.</summary>
    public IReadOnlyList<GVariant> Items
    {
        get
        {
            if (Type == GVariantType.ByteArray)
                return _bytes.ToArray().Select(Byte).ToArray();
            if (Type.Kind is 'a' or '(' or '{')
                return _children!;
            throw new InvalidOperationException($"A '{Type}' has no items.");
        }
    }

    public GVariant this[int index] => Items[index];

    /// <summary>For an 'a{s*}': the value of the first entry with this key (unboxed if the values are 'v').</summary>
    public bool TryLookup(string key, out GVariant value)
    {
        if (!Type.IsArray || !Type.Element!.IsDictEntry || Type.Element.Members[0] != GVariantType.String)
            throw new InvalidOperationException($"Lookup needs an 'a{{s…}}', not '{Type}'.");
        foreach (var entry in _children!)
        {
            if (entry._children![0]._string == key)
            {
                var v = entry._children[1];
                value = v.Type == GVariantType.Variant ? v._children![0] : v;
                return true;
            }
        }
        value = null!;
        return false;
    }

    /// <summary>For an 'a{s*}': the value with this key (unboxed), or null.</summary>
    public GVariant? Lookup(string key) => TryLookup(key, out var v) ? v : null;

    /// <summary>For an 'a{s*}': the entries in order, values unboxed if they are 'v'.</summary>
    public IEnumerable<KeyValuePair<string, GVariant>> DictEntries()
    {
        if (!Type.IsArray || !Type.Element!.IsDictEntry || Type.Element.Members[0] != GVariantType.String)
            throw new InvalidOperationException($"DictEntries needs an 'a{{s…}}', not '{Type}'.");
        foreach (var entry in _children!)
        {
            var v = entry._children![1];
            yield return KeyValuePair.Create(entry._children[0]._string!, v.Type == GVariantType.Variant ? v._children![0] : v);
        }
    }

    private GVariant Expect(char kind)
    {
        if (Type.Kind != kind)
            throw new InvalidOperationException($"Expected a GVariant of kind '{kind}', this is '{Type}'.");
        return this;
    }

    private static string CheckString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0'))
            throw new ArgumentException("GVariant strings cannot contain NUL characters.", nameof(value));
        return value;
    }

    private static uint ToBigEndianBits(uint v) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;

    private static ulong ToBigEndianBits(ulong v) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;

    // ---------------------------------------------------------------- equality / text

    public bool Equals(GVariant? other) =>
        other is not null && Type == other.Type && Serialize().AsSpan().SequenceEqual(other.Serialize());

    public override bool Equals(object? obj) => Equals(obj as GVariant);

    public override int GetHashCode()
    {
        var hc = new HashCode();
        hc.Add(Type);
        hc.AddBytes(Serialize());
        return hc.ToHashCode();
    }

    /// <summary>A GVariant-text-like rendering for diagnostics.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        AppendText(sb);
        return sb.ToString();
    }

    private void AppendText(StringBuilder sb)
    {
        switch (Type.Kind)
        {
            case 'b':
                sb.Append(GetBoolean() ? "true" : "false");
                break;
            case 'y':
                sb.Append("0x").Append(GetByte().ToString("x2", CultureInfo.InvariantCulture));
                break;
            case 'n' or 'i' or 'x':
                sb.Append(((long)(Type.Kind == 'n' ? GetInt16() : Type.Kind == 'i' ? GetInt32() : GetInt64())).ToString(CultureInfo.InvariantCulture));
                break;
            case 'q' or 'u' or 't' or 'h':
                sb.Append(_bits.ToString(CultureInfo.InvariantCulture));
                break;
            case 'd':
                sb.Append(GetDouble().ToString("R", CultureInfo.InvariantCulture));
                break;
            case 's' or 'o' or 'g':
                sb.Append('\'').Append(_string!.Replace("\\", "\\\\").Replace("'", "\\'")).Append('\'');
                break;
            case 'v':
                sb.Append('<');
                _children![0].AppendText(sb);
                sb.Append('>');
                break;
            case 'm':
                if (_children!.Length == 0)
                    sb.Append("nothing");
                else
                    _children[0].AppendText(sb);
                break;
            case 'a' when Type == GVariantType.ByteArray:
                sb.Append("0x").Append(Convert.ToHexStringLower(_bytes.Span));
                break;
            case 'a':
            {
                bool dict = Type.Element!.IsDictEntry;
                sb.Append(dict ? '{' : '[');
                for (int i = 0; i < _children!.Length; i++)
                {
                    if (i > 0)
                        sb.Append(", ");
                    if (dict)
                    {
                        _children[i]._children![0].AppendText(sb);
                        sb.Append(": ");
                        _children[i]._children![1].AppendText(sb);
                    }
                    else
                    {
                        _children[i].AppendText(sb);
                    }
                }
                sb.Append(dict ? '}' : ']');
                break;
            }
            default:
                sb.Append(Type.IsDictEntry ? '{' : '(');
                for (int i = 0; i < _children!.Length; i++)
                {
                    if (i > 0)
                        sb.Append(", ");
                    _children[i].AppendText(sb);
                }
                if (Type.IsTuple && _children.Length == 1)
                    sb.Append(',');
                sb.Append(Type.IsDictEntry ? '}' : ')');
                break;
        }
    }
}
