using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree.Tests.StaticDeltas;

public sealed class SuffixArrayTests
{
    private static int[] NaiveSuffixArray(byte[] data)
    {
        var indices = Enumerable.Range(0, data.Length + 1).ToArray();
        Array.Sort(indices, (a, b) => data.AsSpan(a).SequenceCompareTo(data.AsSpan(b)));
        return indices;
    }

    public static TheoryData<string> Shapes() => ["random256", "binary", "ternary", "constant", "periodic", "fibonacci"];

    private static byte[] Make(string shape, int length, Random random)
    {
        var data = new byte[length];
        switch (shape)
        {
            case "random256": random.NextBytes(data); break;
            case "binary": for (var i = 0; i < length; i++) { data[i] = (byte)random.Next(2); } break;
            case "ternary": for (var i = 0; i < length; i++) { data[i] = (byte)(255 - random.Next(3)); } break;
            case "constant": Array.Fill(data, (byte)'a'); break;
            case "periodic": for (var i = 0; i < length; i++) { data[i] = (byte)"abcab"[i % 5]; } break;
            case "fibonacci":
                var a = "a"; var b = "ab";
                while (b.Length < length) { (a, b) = (b, b + a); }
                for (var i = 0; i < length; i++) { data[i] = (byte)b[i]; }
                break;
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesANaiveSortIncludingTheEmptySuffixFirst(string shape)
    {
        var random = new Random(shape.GetHashCode(StringComparison.Ordinal));
        foreach (var length in new[] { 0, 1, 2, 3, 5, 8, 17, 100, 1000, 5000 })
        {
            var data = Make(shape, length, random);
            var expected = NaiveSuffixArray(data);
            var actual = SuffixArray.Build(data);
            Assert.Equal(length, actual[0]);
            Assert.True(expected.SequenceEqual(actual), $"{shape} length {length}");
        }
    }
}
