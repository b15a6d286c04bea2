using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using OtaServer.OSTree;

namespace OtaServer.Repositories.Storage;

/// <summary>
/// Publishes verified objects into <c>objects/XX/</c> of one repository, create-only and atomically: the bytes go
/// to an unnamed file (<c>O_TMPFILE</c>) in the object's folder, which is then given its name with <c>linkat</c>.
/// A reader sees the whole object or nothing, and if the name exists (another upload got there first) the file is
/// simply dropped. One inode and one name per object, no staging folder to create, rename out of and delete.
/// Where the filesystem has no O_TMPFILE, the bytes go to a named temporary file in the repository's <c>tmp/</c>
/// and are moved with <see cref="AtomicRename.TryMoveNoReplace"/>.
/// </summary>
internal sealed partial class LooseObjectWriter(string repoRoot, bool useTmpFile = true)
{
    private const int AtSymlinkFollow = 0x400;
    private const int OWriteOnly = 1;
    private const int OCloseOnExec = 0x80000;
    private const int Mode644 = 0x1A4;

    private static readonly int TmpFileFlags = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 0x410000,   // __O_TMPFILE | O_DIRECTORY
        Architecture.Arm64 => 0x404000,
        _ => 0,
    };

    /// <summary>Cleared for good once the filesystem refuses O_TMPFILE (or /proc is absent).</summary>
    private static volatile bool s_tmpFileWorks = TmpFileFlags != 0;

    private readonly string _objects = Path.Combine(repoRoot, "objects");
    private readonly string _temp = Path.Combine(repoRoot, LocalFolderStorage.StagingFolder);
    private readonly bool[] _prefixMade = new bool[256];

    /// <summary>Writes <paramref name="content"/> as <paramref name="name"/>; false when the repository already had it.</summary>
    public bool TryCreate(ObjectName name, ReadOnlySpan<byte> content)
    {
        var folder = PrefixFolder(name);
        var final = Path.Combine(_objects, name.RelativePath[8..]);
        if (useTmpFile && s_tmpFileWorks)
        {
            var fd = open(folder, TmpFileFlags | OWriteOnly | OCloseOnExec, Mode644);
            if (fd < 0 && Marshal.GetLastPInvokeError() == Posix.ENOENT)
            {
                // The prefix folder went away since this writer made it (objects pruned): make it again, once.
                folder = PrefixFolder(name, recreate: true);
                fd = open(folder, TmpFileFlags | OWriteOnly | OCloseOnExec, Mode644);
            }
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (Posix.EOPNOTSUPP or Posix.EISDIR or Posix.EINVAL))
                    throw new IOException($"Cannot create a file in {folder}: errno {errno}", errno);
            }
            else
            {
                using var handle = new SafeFileHandle(fd, ownsHandle: true);
                RandomAccess.Write(handle, content, 0);
                if (linkat(Posix.AtFdCwd, "/proc/self/fd/" + fd, Posix.AtFdCwd, final, AtSymlinkFollow) == 0)
                    return true;
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Posix.EEXIST)
                    return false;
                if (errno != Posix.ENOENT) // ENOENT: no /proc to name the file by
                    throw new IOException($"Cannot create {final}: errno {errno}", errno);
            }
            s_tmpFileWorks = false; // from now on, named temporary files
        }
        var temp = Path.Combine(_temp, "object-" + Guid.NewGuid().ToString("N"));
        using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
            output.Write(content);
        return PublishFile(temp, name);
    }

    /// <summary>Moves a complete, verified file to <paramref name="name"/>; false (and the file deleted) when it already existed.</summary>
    public bool PublishFile(string path, ObjectName name)
    {
        PrefixFolder(name, recreate: true);
        if (AtomicRename.TryMoveNoReplace(path, Path.Combine(_objects, name.RelativePath[8..])))
            return true;
        File.Delete(path);
        return false;
    }

    private string PrefixFolder(ObjectName name, bool recreate = false)
    {
        var prefix = name.RelativePath.Substring(8, 2);
        var folder = Path.Combine(_objects, prefix);
        var index = Convert.ToInt32(prefix, 16);
        if (recreate || !Volatile.Read(ref _prefixMade[index]))
        {
            Directory.CreateDirectory(folder);
            Volatile.Write(ref _prefixMade[index], true);
        }
        return folder;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int linkat(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);
}
