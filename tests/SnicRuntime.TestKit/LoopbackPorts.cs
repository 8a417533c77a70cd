using System.Net;
using System.Net.Sockets;

namespace SnicRuntime.TestKit;

/// <summary>Free loopback ports for processes a test starts.</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// Distinct free ports, all held open until every one is chosen: asking one at a time lets the
    /// OS hand the same port out twice (an etcd member once got one port for client and peer).
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }
}
