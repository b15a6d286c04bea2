using System.Runtime.InteropServices;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>
/// Linear-time suffix array construction (SA-IS, Nong–Zhang–Chan 2009) with a virtual sentinel.
/// Memory: the int[n + 1] result plus n/8 bytes of type bits per level; the recursion lives in the
/// result array and its bucket array uses the free middle of that array when it fits.
/// </summary>
internal static unsafe class SuffixArray
{
    /// <summary>
    /// Returns <c>sa</c> of length <c>data.Length + 1</c>: <c>sa[0] = data.Length</c> (the empty
    /// suffix), then the start offsets of all suffixes in lexicographic order — the same array
    /// bsdiff's qsufsort produces.
    /// </summary>
    public static int[] Build(ReadOnlySpan<byte> data)
    {
        if (data.Length >= int.MaxValue - 64)
        {
            throw new ArgumentException("Input too large for a 32-bit suffix array.", nameof(data));
        }

        var n = data.Length;
        var sa = GC.AllocateUninitializedArray<int>(n + 1);
        if (n == 0)
        {
            sa[0] = 0;
            return sa;
        }

        fixed (byte* p = data)
        fixed (int* s = sa)
        {
            // Text of length n + 1: byte + 1 for real characters, 0 for the sentinel.
            SaIs(new ByteText(p, n), s, n + 1, 256, null, 0);
        }

        return sa;
    }

    private interface IText
    {
        int this[int i] { get; }
    }

    private readonly struct ByteText : IText
    {
        private readonly byte* _p;
        private readonly int _n;

        public ByteText(byte* p, int n)
        {
            _p = p;
            _n = n;
        }

        public int this[int i] => i < _n ? _p[i] + 1 : 0;
    }

    private readonly struct IntText : IText
    {
        private readonly int* _p;

        public IntText(int* p) => _p = p;

        public int this[int i] => _p[i];
    }

    private static bool GetT(byte* t, int i) => ((t[i >> 3] >> (i & 7)) & 1) != 0;

    private static void SetT(byte* t, int i, bool value)
    {
        if (value)
        {
            t[i >> 3] |= (byte)(1 << (i & 7));
        }
        else
        {
            t[i >> 3] &= (byte)~(1 << (i & 7));
        }
    }

    private static bool IsLms(byte* t, int i) => i > 0 && GetT(t, i) && !GetT(t, i - 1);

    private static void GetBuckets<T>(T s, int* bkt, int n, int k, bool end)
        where T : struct, IText
    {
        new Span<int>(bkt, k + 1).Clear();
        for (var i = 0; i < n; i++)
        {
            bkt[s[i]]++;
        }

        var sum = 0;
        for (var i = 0; i <= k; i++)
        {
            sum += bkt[i];
            bkt[i] = end ? sum : sum - bkt[i];
        }
    }

    private static void InduceL<T>(byte* t, int* sa, T s, int* bkt, int n, int k)
        where T : struct, IText
    {
        GetBuckets(s, bkt, n, k, end: false);
        for (var i = 0; i < n; i++)
        {
            var j = sa[i] - 1;
            if (j >= 0 && !GetT(t, j))
            {
                sa[bkt[s[j]]++] = j;
            }
        }
    }

    private static void InduceS<T>(byte* t, int* sa, T s, int* bkt, int n, int k)
        where T : struct, IText
    {
        GetBuckets(s, bkt, n, k, end: true);
        for (var i = n - 1; i >= 0; i--)
        {
            var j = sa[i] - 1;
            if (j >= 0 && GetT(t, j))
            {
                sa[--bkt[s[j]]] = j;
            }
        }
    }

    /// <summary>
    /// Suffix array of <paramref name="s"/>[0..n) over the alphabet [0, k]; s[n-1] must be the unique
    /// smallest character (0) and n ≥ 2. <paramref name="work"/> is optional scratch space disjoint from sa.
    /// </summary>
    private static void SaIs<T>(T s, int* sa, int n, int k, int* work, int workLength)
        where T : struct, IText
    {
        var typeBits = new byte[(n >> 3) + 1];
        int* bkt = null;
        var ownsBuckets = false;
        try
        {
            if (k + 1 <= workLength)
            {
                bkt = work;
            }
            else
            {
                bkt = (int*)NativeMemory.Alloc((nuint)(k + 1), sizeof(int));
                ownsBuckets = true;
            }

            fixed (byte* t = typeBits)
            {
                // Classify: S = 1, L = 0. The sentinel is S, the character before it L.
                SetT(t, n - 2, false);
                SetT(t, n - 1, true);
                for (var i = n - 3; i >= 0; i--)
                {
                    int ci = s[i], cn = s[i + 1];
                    SetT(t, i, ci < cn || (ci == cn && GetT(t, i + 1)));
                }

                // Stage 1: sort the LMS substrings by induction.
                GetBuckets(s, bkt, n, k, end: true);
                new Span<int>(sa, n).Fill(-1);
                for (var i = 1; i < n; i++)
                {
                    if (IsLms(t, i))
                    {
                        sa[--bkt[s[i]]] = i;
                    }
                }

                InduceL(t, sa, s, bkt, n, k);
                InduceS(t, sa, s, bkt, n, k);

                // Compact the sorted LMS substrings into sa[0..n1).
                var n1 = 0;
                for (var i = 0; i < n; i++)
                {
                    if (IsLms(t, sa[i]))
                    {
                        sa[n1++] = sa[i];
                    }
                }

                // Name them; equal substrings get equal names. 2·n1 ≤ n, so names fit in sa[n1..n).
                new Span<int>(sa + n1, n - n1).Fill(-1);
                int name = 0, prev = -1;
                for (var i = 0; i < n1; i++)
                {
                    var pos = sa[i];
                    var diff = false;
                    for (var d = 0; d < n; d++)
                    {
                        if (prev == -1 || s[pos + d] != s[prev + d] || GetT(t, pos + d) != GetT(t, prev + d))
                        {
                            diff = true;
                            break;
                        }

                        if (d > 0 && (IsLms(t, pos + d) || IsLms(t, prev + d)))
                        {
                            break;
                        }
                    }

                    if (diff)
                    {
                        name++;
                        prev = pos;
                    }

                    sa[n1 + (pos >> 1)] = name - 1;
                }

                for (int i = n - 1, j = n - 1; i >= n1; i--)
                {
                    if (sa[i] >= 0)
                    {
                        sa[j--] = sa[i];
                    }
                }

                // Stage 2: suffix array of the reduced string s1 (stored at the end of sa) into sa[0..n1).
                var sa1 = sa;
                var s1 = sa + n - n1;
                if (name < n1)
                {
                    SaIs(new IntText(s1), sa1, n1, name - 1, sa + n1, n - 2 * n1);
                }
                else
                {
                    for (var i = 0; i < n1; i++)
                    {
                        sa1[s1[i]] = i;
                    }
                }

                // Stage 3: induce the full suffix array from the sorted LMS suffixes.
                GetBuckets(s, bkt, n, k, end: true);
                for (int i = 1, j = 0; i < n; i++)
                {
                    if (IsLms(t, i))
                    {
                        s1[j++] = i;
                    }
                }

                for (var i = 0; i < n1; i++)
                {
                    sa1[i] = s1[sa1[i]];
                }

                new Span<int>(sa + n1, n - n1).Fill(-1);
                for (var i = n1 - 1; i >= 0; i--)
                {
                    var j = sa[i];
                    sa[i] = -1;
                    sa[--bkt[s[j]]] = j;
                }

                InduceL(t, sa, s, bkt, n, k);
                InduceS(t, sa, s, bkt, n, k);
            }
        }
        finally
        {
            if (ownsBuckets)
            {
                NativeMemory.Free(bkt);
            }
        }
    }
}
