using System.Runtime.InteropServices;

namespace OtaServer.Repositories.Storage;

/// <summary>
/// Create-only renames. <see cref="File.Move(string, string, bool)"/> without overwrite checks and
/// renames in two steps, so two concurrent writers can both "create" the same name; here the kernel
/// decides (renameat2 with RENAME_NOREPLACE, or link + unlink for files where that is unsupported).
/// </summary>
internal static partial class AtomicRename
{
    private const uint RenameNoReplace = 1;

    /// <summary>Moves a file or directory to <paramref name="destination"/> unless something is already there. Returns false if it was.</summary>
    public static bool TryMoveNoReplace(string source, string destination)
    {
        if (renameat2(Posix.AtFdCwd, source, Posix.AtFdCwd, destination, RenameNoReplace) == 0)
            return true;
        var errno = Marshal.GetLastPInvokeError();
        if (errno is Posix.EEXIST or Posix.ENOTEMPTY)
            return false;
        if (errno is Posix.EINVAL or Posix.ENOSYS && File.Exists(source))
        {
            if (link(source, destination) == 0)
            {
                File.Delete(source);
                return true;
            }
            errno = Marshal.GetLastPInvokeError();
            if (errno == Posix.EEXIST)
                return false;
        }
        throw new IOException($"Cannot move {source} to {destination}: errno {errno}", errno);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldpath, string newpath);
}
