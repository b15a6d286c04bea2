namespace OtaServer.OSTree.Tests.Fuzzing;

/// <summary>
/// A seeded mutation fuzzer: each input is a valid sample changed by one to four mutations (bit flips, byte
/// overwrites with boundary values, truncation, insertion and deletion of runs, 32/64-bit length fields set to
/// extremes, splices of another sample). Same seed, same inputs: a failure found once is found again.
/// </summary>
public sealed class Mutator(int seed, IReadOnlyList<byte[]> samples)
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x20, 0x40];

    private readonly Random _rng = new(seed);

    /// <summary>Iterations per parser: small in the default suite, larger through OTA_FUZZ_ITERATIONS.</summary>
    public static int Iterations(int @default) =>
        int.TryParse(Environment.GetEnvironmentVariable("OTA_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : @default;

    public byte[] Next()
    {
        var data = new List<byte>(samples[_rng.Next(samples.Count)]);
        var count = 1 + _rng.Next(4);
        for (var i = 0; i < count; i++)
            Mutate(data);
        return [.. data];
    }

    private void Mutate(List<byte> d)
    {
        switch (_rng.Next(9))
        {
            case 0 when d.Count > 0:
                d[_rng.Next(d.Count)] ^= (byte)(1 << _rng.Next(8));
                break;
            case 1 when d.Count > 0:
                d[_rng.Next(d.Count)] = Interesting[_rng.Next(Interesting.Length)];
                break;
            case 2 when d.Count > 0:
            {
                var keep = _rng.Next(d.Count); // truncation
                d.RemoveRange(keep, d.Count - keep);
                break;
            }
            case 3:
            {
                var at = _rng.Next(d.Count + 1);
                var run = new byte[1 + _rng.Next(16)];
                _rng.NextBytes(run);
                d.InsertRange(at, run);
                break;
            }
            case 4 when d.Count > 1:
            {
                var at = _rng.Next(d.Count);
                d.RemoveRange(at, Math.Min(d.Count - at, 1 + _rng.Next(16)));
                break;
            }
            case 5 when d.Count >= 4:
            {
                var at = _rng.Next(d.Count - 3);
                var value = _rng.Next(4) switch { 0 => 0u, 1 => uint.MaxValue, 2 => (uint)d.Count, _ => 0x7FFFFFFFu };
                for (var k = 0; k < 4; k++)
                    d[at + k] = (byte)(value >> (8 * k));
                break;
            }
            case 6 when d.Count >= 8:
            {
                var at = _rng.Next(d.Count - 7);
                var value = _rng.Next(2) == 0 ? ulong.MaxValue : (ulong)long.MaxValue;
                for (var k = 0; k < 8; k++)
                    d[at + k] = (byte)(value >> (8 * k));
                break;
            }
            case 7:
            {
                var other = samples[_rng.Next(samples.Count)];
                if (other.Length == 0 || d.Count == 0)
                    break;
                var from = _rng.Next(other.Length);
                var len = Math.Min(other.Length - from, 1 + _rng.Next(64));
                var at = _rng.Next(d.Count);
                d.RemoveRange(at, Math.Min(d.Count - at, len));
                d.InsertRange(at, other.Skip(from).Take(len));
                break;
            }
            default:
                if (d.Count > 0)
                    d[_rng.Next(d.Count)] = (byte)_rng.Next(256);
                break;
        }
    }
}
