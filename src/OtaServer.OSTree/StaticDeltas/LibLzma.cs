using System.Runtime.InteropServices;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>Return codes of liblzma (<c>lzma_ret</c>).</summary>
public enum LzmaResult
{
    Ok = 0,
    StreamEnd = 1,
    NoCheck = 2,
    UnsupportedCheck = 3,
    GetCheck = 4,
    MemError = 5,
    MemLimitError = 6,
    FormatError = 7,
    OptionsError = 8,
    DataError = 9,
    BufError = 10,
    ProgError = 11,
    SeekNeeded = 12,
}

/// <summary>Raw P/Invoke surface of the system liblzma (xz-utils 5.x ABI).</summary>
internal static unsafe partial class LibLzma
{
    private const string Library = "liblzma.so.5";

    public const uint PresetExtreme = 1u << 31;
    public const int ActionRun = 0;
    public const int ActionFinish = 3;

    /// <summary><c>lzma_stream</c>; allocated in native memory so liblzma may keep its address.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LzmaStream
    {
        public byte* NextIn;
        public nuint AvailIn;
        public ulong TotalIn;
        public byte* NextOut;
        public nuint AvailOut;
        public ulong TotalOut;
        public void* Allocator;
        public void* Internal;
        public void* ReservedPtr1;
        public void* ReservedPtr2;
        public void* ReservedPtr3;
        public void* ReservedPtr4;
        public ulong SeekPos;
        public ulong ReservedInt2;
        public nuint ReservedInt3;
        public nuint ReservedInt4;
        public int ReservedEnum1;
        public int ReservedEnum2;
    }

    /// <summary><c>lzma_mt</c> (liblzma ≥ 5.4 layout; older versions treat the 5.4 fields as reserved zeros).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LzmaMt
    {
        public uint Flags;
        public uint Threads;
        public ulong BlockSize;
        public uint Timeout;
        public uint Preset;
        public void* Filters;
        public int Check;
        public int ReservedEnum1;
        public int ReservedEnum2;
        public int ReservedEnum3;
        public uint ReservedInt1;
        public uint ReservedInt2;
        public uint ReservedInt3;
        public uint ReservedInt4;
        public ulong MemlimitThreading;
        public ulong MemlimitStop;
        public ulong ReservedInt7;
        public ulong ReservedInt8;
        public void* ReservedPtr1;
        public void* ReservedPtr2;
        public void* ReservedPtr3;
        public void* ReservedPtr4;
    }

    [LibraryImport(Library, EntryPoint = "lzma_easy_encoder")]
    public static partial LzmaResult EasyEncoder(LzmaStream* strm, uint preset, int check);

    [LibraryImport(Library, EntryPoint = "lzma_stream_encoder_mt")]
    public static partial LzmaResult StreamEncoderMt(LzmaStream* strm, LzmaMt* options);

    [LibraryImport(Library, EntryPoint = "lzma_stream_decoder")]
    public static partial LzmaResult StreamDecoder(LzmaStream* strm, ulong memlimit, uint flags);

    [LibraryImport(Library, EntryPoint = "lzma_code")]
    public static partial LzmaResult Code(LzmaStream* strm, int action);

    /// <summary>One <c>lzma_code</c> call over spans. Returns Ok, StreamEnd or an error code (not thrown).</summary>
    public static LzmaResult Step(LzmaStream* stream, ReadOnlySpan<byte> input, Span<byte> output, bool finish, out int consumed, out int produced)
    {
        fixed (byte* pin = input)
        fixed (byte* pout = output)
        {
            stream->NextIn = pin;
            stream->AvailIn = (nuint)input.Length;
            stream->NextOut = pout;
            stream->AvailOut = (nuint)output.Length;
            var result = Code(stream, finish ? ActionFinish : ActionRun);
            consumed = input.Length - (int)stream->AvailIn;
            produced = output.Length - (int)stream->AvailOut;
            stream->NextIn = null;
            stream->NextOut = null;
            stream->AvailIn = 0;
            stream->AvailOut = 0;
            return result;
        }
    }

    [LibraryImport(Library, EntryPoint = "lzma_end")]
    public static partial void End(LzmaStream* strm);

    [LibraryImport(Library, EntryPoint = "lzma_version_string")]
    public static partial byte* VersionString();
}
