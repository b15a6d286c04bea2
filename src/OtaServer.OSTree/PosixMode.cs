namespace OtaServer.OSTree;

/// <summary>POSIX st_mode bits used by OSTree objects.</summary>
public static class PosixMode
{
    public const uint TypeMask = 0xF000;      // S_IFMT 0o170000
    public const uint Directory = 0x4000;     // S_IFDIR 0o040000
    public const uint RegularFile = 0x8000;   // S_IFREG 0o100000
    public const uint Symlink = 0xA000;       // S_IFLNK 0o120000
    public const uint PermissionMask = 0xFFF; // rwx for all + setuid/setgid/sticky

    public static bool IsDirectory(uint mode) => (mode & TypeMask) == Directory;

    public static bool IsRegularFile(uint mode) => (mode & TypeMask) == RegularFile;

    public static bool IsSymlink(uint mode) => (mode & TypeMask) == Symlink;
}
