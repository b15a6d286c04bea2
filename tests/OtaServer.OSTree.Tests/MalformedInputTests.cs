namespace OtaServer.OSTree.Tests;

/// <summary>Corrupted objects and summaries must fail with the documented exception type, never crash differently.</summary>
public sealed class MalformedInputTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ostree-2022.7");

    private static IEnumerable<byte[]> Mutations(byte[] original, Random rnd)
    {
        for (int len = 0; len < original.Length; len += Math.Max(1, original.Length / 40))
            yield return original[..len];
        for (int i = 0; i < 300; i++)
        {
            var m = (byte[])original.Clone();
            int flips = 1 + rnd.Next(3);
            for (int f = 0; f < flips; f++)
                m[rnd.Next(m.Length)] ^= (byte)(1 << rnd.Next(8));
            yield return m;
        }
        yield return [.. original, 0];
    }

    [Fact]
    public void CorruptedObjects_FailOnlyWithInvalidObjectException()
    {
        var rnd = new Random(1126);
        int rejected = 0;
        foreach (var file in Directory.EnumerateFiles(Dir).Where(f => ObjectName.TryParse(Path.GetFileName(f), out _)))
        {
            var name = ObjectName.Parse(Path.GetFileName(file));
            foreach (var bytes in Mutations(File.ReadAllBytes(file), rnd))
            {
                try
                {
                    ObjectVerifier.Verify(name, new MemoryStream(bytes));
                }
                catch (InvalidObjectException)
                {
                    rejected++;
                }
            }
        }
        Assert.True(rejected > 1000, $"only {rejected} mutations rejected");
    }

    [Fact]
    public void CorruptedSummaries_FailOnlyWithFormatException()
    {
        var rnd = new Random(7);
        var original = File.ReadAllBytes(Path.Combine(Dir, "summary"));
        foreach (var bytes in Mutations(original, rnd))
        {
            try
            {
                Summary.Parse(bytes);
            }
            catch (FormatException)
            {
            }
        }
    }

    [Fact]
    public void RandomBytes_AsEveryOstreeType_FailOnlyWithFormatException()
    {
        var rnd = new Random(3);
        string[] types = [Commit.TypeString, DirTree.TypeString, DirMeta.TypeString, Summary.TypeString, "a{sv}", "v", "(a(uuu)aa(ayay)ayay)"];
        foreach (var t in types)
        {
            var type = GVariantType.Parse(t);
            for (int i = 0; i < 2000; i++)
            {
                var bytes = new byte[rnd.Next(0, 64)];
                rnd.NextBytes(bytes);
                try
                {
                    GVariant.ParseNormalForm(type, bytes);
                }
                catch (FormatException)
                {
                }
            }
        }
    }
}
