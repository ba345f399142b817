using System.Net.Sockets;
using Akka.Configuration;

namespace AnomalyActors.Node.Hosting;

/// <summary>The node's cluster endpoint could not be bound (Akka reports it as nested exceptions without the address).</summary>
public sealed class RemotingBindException(string host, int port, Exception cause)
    : Exception($"the node's cluster endpoint cannot listen on {host}:{port}: {Describe(cause)}", cause)
{
    public int Port { get; } = port;

    /// <summary>The bind failure among Akka's start-up exceptions, or null when it failed for another reason.</summary>
    public static RemotingBindException? Find(Exception failure, Config config)
    {
        for (var e = failure; e is not null; e = e.InnerException ?? (e as AggregateException)?.InnerExceptions.FirstOrDefault())
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable or SocketError.AccessDenied } socket)
            {
                var remote = config.GetConfig("akka.remote.dot-netty.tcp");
                return new RemotingBindException(remote.GetString("hostname", "127.0.0.1"), remote.GetInt("port", 0), socket);
            }
        }

        return null;
    }

    private static string Describe(Exception cause) => cause is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
        ? "the port is in use by another program"
        : cause.Message;
}
