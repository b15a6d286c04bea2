namespace OtaServer.OSTree;

/// <summary>An object's bytes are not a valid object of its type, or do not match its name.</summary>
public sealed class InvalidObjectException : FormatException
{
    public InvalidObjectException(ObjectName objectName, string reason, Exception? innerException = null)
        : base($"Object {objectName} is invalid: {reason}", innerException)
    {
        ObjectName = objectName;
        Reason = reason;
    }

    public ObjectName ObjectName { get; }

    /// <summary>Why the object was rejected (without the object name).</summary>
    public string Reason { get; }
}
