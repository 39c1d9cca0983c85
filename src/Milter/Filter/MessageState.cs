using System.Net;

namespace Milter.Filter;

/// <summary>What the filter knows of one connection and its current message.</summary>
internal sealed class MessageState
{
    public string? ClientName { get; set; }
    public IPAddress? ClientAddress { get; set; }
    public string? Helo { get; set; }
    public string? MailFrom { get; set; }
    public bool Authenticated { get; set; }
    /// <summary>The direction of the current message, once decided (<see cref="FilterServices.IsOutbound"/>).</summary>
    public bool? Outbound { get; set; }
    /// <summary>Header names in arrival order with their exact raw values (bounded by <see cref="AuthFilter.MaxHeaders"/>).</summary>
    public List<(string Name, byte[] Value)> Headers { get; } = new();
    /// <summary>Authentication-Results and From fields, tracked whatever the cap on <see cref="Headers"/>
    /// (created at MAIL FROM with the message's authserv-id).</summary>
    public UncappedFields? Fields { get; set; }
    public long HeaderBytes { get; set; }
    /// <summary>Header fields seen, stored or not.</summary>
    public int HeaderFields { get; set; }
    public bool HeadersTruncated { get; set; }
    public long BodyBytes { get; set; }
    public long StartTimestamp { get; set; }

    public void ResetMessage()
    {
        MailFrom = null;
        Authenticated = false;
        Outbound = null;
        Headers.Clear();
        Fields = null;
        HeaderBytes = 0;
        HeaderFields = 0;
        HeadersTruncated = false;
        BodyBytes = 0;
        StartTimestamp = 0;
    }
}
