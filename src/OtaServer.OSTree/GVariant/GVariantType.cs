using System.Collections.Concurrent;

namespace OtaServer.OSTree;

/// <summary>
/// A (definite) GVariant type: basic types y b n q i u h x t d s o g, v, arrays a, maybes m,
/// tuples ( ) and dict entries { }. Instances are interned; compare with == or Equals.
/// </summary>
public sealed class GVariantType : IEquatable<GVariantType>
{
    private static readonly ConcurrentDictionary<string, GVariantType> Cache = new(StringComparer.Ordinal);

    public static readonly GVariantType Byte = Parse("y");
    public static readonly GVariantType Boolean = Parse("b");
    public static readonly GVariantType Int16 = Parse("n");
    public static readonly GVariantType UInt16 = Parse("q");
    public static readonly GVariantType Int32 = Parse("i");
    public static readonly GVariantType UInt32 = Parse("u");
    public static readonly GVariantType Int64 = Parse("x");
    public static readonly GVariantType UInt64 = Parse("t");
    public static readonly GVariantType Double = Parse("d");
    public static readonly GVariantType String = Parse("s");
    public static readonly GVariantType ObjectPath = Parse("o");
    public static readonly GVariantType Signature = Parse("g");
    public static readonly GVariantType Variant = Parse("v");
    public static readonly GVariantType ByteArray = Parse("ay");
    public static readonly GVariantType VarDict = Parse("a{sv}");
    public static readonly GVariantType Unit = Parse("()");

    private readonly GVariantType[] _members;

    private GVariantType(string text, char kind, GVariantType? element, GVariantType[] members)
    {
        Text = text;
        Kind = kind;
        Element = element;
        _members = members;
        Alignment = ComputeAlignment();
        FixedSize = ComputeFixedSize();
    }

    /// <summary>The type string, e.g. "(a{sv}aya(say)sstayay)".</summary>
    public string Text { get; }

    /// <summary>First character of the type string: a basic type letter, 'v', 'a', 'm', '(' or '{'.</summary>
    public char Kind { get; }

    /// <summary>Element type of an array or maybe; null otherwise.</summary>
    public GVariantType? Element { get; }

    /// <summary>Member types of a tuple or dict entry; empty otherwise.</summary>
    public IReadOnlyList<GVariantType> Members => _members;

    public int Alignment { get; }

    /// <summary>Serialized size if the type is fixed-size, otherwise null.</summary>
    public int? FixedSize { get; }

    public bool IsFixedSize => FixedSize.HasValue;

    public bool IsBasic => Kind is 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'h' or 'x' or 't' or 'd' or 's' or 'o' or 'g';

    public bool IsArray => Kind == 'a';

    public bool IsMaybe => Kind == 'm';

    public bool IsTuple => Kind == '(';

    public bool IsDictEntry => Kind == '{';

    public bool IsContainerOfMembers => Kind is '(' or '{';

    public static GVariantType Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Cache.TryGetValue(text, out var cached))
            return cached;
        int pos = 0;
        var t = ParseOne(text, ref pos, 0);
        if (pos != text.Length)
            throw new FormatException($"'{text}' is not a single complete GVariant type.");
        return t;
    }

    public static bool TryParse(string text, out GVariantType? type)
    {
        try
        {
            type = Parse(text);
            return true;
        }
        catch (FormatException)
        {
            type = null;
            return false;
        }
    }

    /// <summary>An array type with the given element type.</summary>
    public static GVariantType ArrayOf(GVariantType element) => Parse("a" + element.Text);

    public static GVariantType MaybeOf(GVariantType element) => Parse("m" + element.Text);

    public static GVariantType TupleOf(params IEnumerable<GVariantType> members) => Parse("(" + string.Concat(members.Select(m => m.Text)) + ")");

    public static GVariantType DictEntryOf(GVariantType key, GVariantType value) => Parse("{" + key.Text + value.Text + "}");

    private static GVariantType ParseOne(string s, ref int pos, int depth)
    {
        if (depth > 64)
            throw new FormatException("GVariant type nesting is too deep.");
        if (pos >= s.Length)
            throw new FormatException($"'{s}' ends in the middle of a GVariant type.");
        int start = pos;
        char c = s[pos++];
        GVariantType result;
        switch (c)
        {
            case 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'h' or 'x' or 't' or 'd' or 's' or 'o' or 'g' or 'v':
            {
                var text = s[start..pos];
                result = Intern(text, () => new GVariantType(text, c, null, []));
                break;
            }
            case 'a' or 'm':
            {
                var el = ParseOne(s, ref pos, depth + 1);
                var text = s[start..pos];
                result = Intern(text, () => new GVariantType(text, c, el, []));
                break;
            }
            case '(':
            {
                var members = new List<GVariantType>();
                while (true)
                {
                    if (pos >= s.Length)
                        throw new FormatException($"'{s}': unterminated tuple type.");
                    if (s[pos] == ')')
                    {
                        pos++;
                        break;
                    }
                    members.Add(ParseOne(s, ref pos, depth + 1));
                }
                var arr = members.ToArray();
                var text = s[start..pos];
                result = Intern(text, () => new GVariantType(text, c, null, arr));
                break;
            }
            case '{':
            {
                var key = ParseOne(s, ref pos, depth + 1);
                if (!key.IsBasic)
                    throw new FormatException($"'{s}': dict entry keys must be basic types.");
                var value = ParseOne(s, ref pos, depth + 1);
                if (pos >= s.Length || s[pos] != '}')
                    throw new FormatException($"'{s}': a dict entry has exactly two members.");
                pos++;
                var text = s[start..pos];
                result = Intern(text, () => new GVariantType(text, c, null, [key, value]));
                break;
            }
            default:
                throw new FormatException($"'{s}': unsupported GVariant type character '{c}' at {start}.");
        }
        return result;
    }

    // Types named inside untrusted data (variants) are parsed too; stop interning past this many so hostile
    // input cannot grow the cache without bound (uncached instances still compare equal by text).
    private const int MaxCachedTypes = 4096;

    private static GVariantType Intern(string text, Func<GVariantType> create)
    {
        if (Cache.TryGetValue(text, out var t))
            return t;
        var created = create();
        return Cache.Count < MaxCachedTypes ? Cache.GetOrAdd(text, created) : created;
    }

    /// <summary>Syntax check of one complete type starting at <paramref name="pos"/> without creating types.</summary>
    internal static bool TrySkip(string s, ref int pos, int depth = 0)
    {
        if (depth > 64 || pos >= s.Length)
            return false;
        char c = s[pos++];
        switch (c)
        {
            case 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'h' or 'x' or 't' or 'd' or 's' or 'o' or 'g' or 'v':
                return true;
            case 'a' or 'm':
                return TrySkip(s, ref pos, depth + 1);
            case '(':
                while (pos < s.Length && s[pos] != ')')
                {
                    if (!TrySkip(s, ref pos, depth + 1))
                        return false;
                }
                if (pos >= s.Length)
                    return false;
                pos++;
                return true;
            case '{':
                if (pos >= s.Length || !IsBasicChar(s[pos]))
                    return false;
                pos++;
                if (!TrySkip(s, ref pos, depth + 1) || pos >= s.Length || s[pos] != '}')
                    return false;
                pos++;
                return true;
            default:
                return false;
        }
    }

    private static bool IsBasicChar(char c) => c is 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'h' or 'x' or 't' or 'd' or 's' or 'o' or 'g';

    private int ComputeAlignment() => Kind switch
    {
        'y' or 'b' or 's' or 'o' or 'g' => 1,
        'n' or 'q' => 2,
        'i' or 'u' or 'h' => 4,
        'x' or 't' or 'd' or 'v' => 8,
        'a' or 'm' => Element!.Alignment,
        _ => _members.Length == 0 ? 1 : _members.Max(m => m.Alignment),
    };

    private int? ComputeFixedSize()
    {
        switch (Kind)
        {
            case 'y' or 'b':
                return 1;
            case 'n' or 'q':
                return 2;
            case 'i' or 'u' or 'h':
                return 4;
            case 'x' or 't' or 'd':
                return 8;
            case '(' or '{':
            {
                if (_members.Length == 0)
                    return 1;
                int off = 0;
                foreach (var m in _members)
                {
                    if (m.FixedSize is not int fs)
                        return null;
                    off = AlignUp(off, m.Alignment) + fs;
                }
                return AlignUp(off, Alignment);
            }
            default:
                return null;
        }
    }

    internal static int AlignUp(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);

    public bool Equals(GVariantType? other) => other is not null && string.Equals(Text, other.Text, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as GVariantType);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Text);

    public override string ToString() => Text;

    public static bool operator ==(GVariantType? left, GVariantType? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(GVariantType? left, GVariantType? right) => !(left == right);
}
