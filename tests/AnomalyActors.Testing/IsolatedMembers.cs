using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AnomalyActors.Testing;

/// <summary>
/// Cluster members each in a network namespace of their own, linked to one another through a bridge
/// in a hub namespace (addresses 10.77.0.x exist only inside these namespaces), so that a test can
/// cut one member off the others by taking its link down. The services the members use (PostgreSQL,
/// Kafka, a broker) stay where the test started them, on the machine's loopback: inside each
/// member's namespace this process listens on 127.0.0.1 at the same ports and forwards every
/// connection to them, so a member cut off from its peers still reaches its database, which is the
/// dangerous kind of partition. Everything is removed on dispose.
/// </summary>
public sealed class IsolatedMembers : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly NetworkNamespace _hub;
    private readonly NetworkNamespace[] _members;
    private readonly string[] _hubLinks;
    private readonly List<Socket> _listeners = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<int, ServiceGate> _gates = [];

    private IsolatedMembers(NetworkNamespace hub, NetworkNamespace[] members, string[] hubLinks)
    {
        _hub = hub;
        _members = members;
        _hubLinks = hubLinks;
    }

    /// <summary>Why this cannot run here, or null when it can.</summary>
    public static string? Unavailable => NetworkNamespace.Unavailable;

    /// <summary>Member <paramref name="member"/>'s address, reachable from the other members' namespaces only.</summary>
    public static string AddressOf(int member) => $"10.77.0.{11 + member}";

    /// <param name="members">Namespaces to make, one per member.</param>
    /// <param name="forwardedPorts">Ports on this machine's 127.0.0.1 that every member reaches at 127.0.0.1 in its own namespace.</param>
    public static IsolatedMembers Create(int members, IEnumerable<int> forwardedPorts)
    {
        var hub = NetworkNamespace.Create("aahub");
        var namespaces = new List<NetworkNamespace>();
        var links = new string[members];
        try
        {
            hub.Exec("ip", "link", "add", "br0", "type", "bridge");
            hub.Exec("ip", "link", "set", "br0", "up");
            var tag = Guid.NewGuid().ToString("N")[..5];
            for (var m = 0; m < members; m++)
            {
                var ns = NetworkNamespace.Create("aamember");
                namespaces.Add(ns);

                // Interface names are short (15 bytes) and global while being created: the tag keeps
                // two tests of this machine apart.
                var inside = $"aa{tag}{m}m";
                links[m] = $"aa{tag}{m}h";
                ns.Exec("ip", "link", "add", inside, "type", "veth", "peer", "name", links[m], "netns", hub.Name);
                ns.Exec("ip", "addr", "add", AddressOf(m) + "/24", "dev", inside);
                ns.Exec("ip", "link", "set", inside, "up");
                hub.Exec("ip", "link", "set", links[m], "master", "br0");
                hub.Exec("ip", "link", "set", links[m], "up");
            }
        }
        catch
        {
            namespaces.ForEach(n => n.Dispose());
            hub.Dispose();
            throw;
        }

        var isolated = new IsolatedMembers(hub, [.. namespaces], links);
        try
        {
            foreach (var ns in namespaces)
            {
                foreach (var port in forwardedPorts.Distinct())
                {
                    isolated.Forward(ns, port);
                }
            }
        }
        catch
        {
            isolated.Dispose();
            throw;
        }

        return isolated;
    }

    /// <summary>The same command, started inside member <paramref name="member"/>'s namespace (same environment and arguments).</summary>
    public ProcessStartInfo Inside(int member, ProcessStartInfo info)
    {
        var wrapped = _members[member].StartInfo([info.FileName, .. info.ArgumentList]);
        foreach (var (name, value) in info.Environment)
        {
            wrapped.Environment[name] = value;
        }

        wrapped.WorkingDirectory = info.WorkingDirectory;
        return wrapped;
    }

    /// <summary>Takes member <paramref name="member"/>'s link to the others down: their packets are lost, as when a cable is cut.</summary>
    public void Cut(int member) => _hub.Exec("ip", "link", "set", _hubLinks[member], "down");

    /// <summary>Brings the link back.</summary>
    public void Heal(int member) => _hub.Exec("ip", "link", "set", _hubLinks[member], "up");

    /// <summary>
    /// Cuts every member off the service at <paramref name="port"/> (a site's Kafka across a WAN): what is
    /// sent either way is held, new connections wait, as when packets are lost on a cut line; the
    /// service itself and everything else on this machine go on reaching it.
    /// </summary>
    public void CutService(int port) => GateOf(port).Close();

    /// <summary>Brings the service back: what was held is delivered, as TCP retransmits after a cut.</summary>
    public void HealService(int port) => GateOf(port).Open();

    /// <summary>
    /// A port on this machine's 127.0.0.1 that reaches 127.0.0.1:<paramref name="port"/> inside member
    /// <paramref name="member"/>'s namespace (e.g. its dashboard, for the test to read).
    /// </summary>
    public int Expose(int member, int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(64);
        _listeners.Add(listener);
        var ns = _members[member];
        _ = Task.Run(() => AcceptAsync(listener, () => InNamespace(ns, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)), port, ServiceGate.AlwaysOpen));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    private ServiceGate GateOf(int port)
    {
        lock (_gates)
        {
            return _gates.TryGetValue(port, out var gate) ? gate : throw new ArgumentException($"port {port} is not forwarded to the members", nameof(port));
        }
    }

    private void Forward(NetworkNamespace ns, int port)
    {
        var listener = ListenInside(ns, port);
        _listeners.Add(listener);
        ServiceGate gate;
        lock (_gates)
        {
            if (!_gates.TryGetValue(port, out gate!))
            {
                _gates[port] = gate = new ServiceGate();
            }
        }

        _ = Task.Run(() => AcceptAsync(listener, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), port, gate));
    }

    /// <summary>
    /// A socket belongs to the network namespace of the thread that creates it: a thread of its own
    /// enters the member's namespace, creates and binds the listener, and goes back.
    /// </summary>
    private static Socket ListenInside(NetworkNamespace ns, int port) => InNamespace(ns, () =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        socket.Listen(64);
        return socket;
    });

    /// <summary>A socket made inside <paramref name="ns"/>: it stays there whatever thread uses it later.</summary>
    private static Socket InNamespace(NetworkNamespace ns, Func<Socket> create)
    {
        Socket? made = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var original = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle(Path.Combine("/var/run/netns", ns.Name));
                if (setns(target.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns into {ns.Name} failed: errno {Marshal.GetLastPInvokeError()}");
                }

                try
                {
                    made = create();
                }
                finally
                {
                    if (setns(original.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                    {
                        // This thread ends here anyway; nothing else runs on it.
                        failure = new InvalidOperationException($"setns back failed: errno {Marshal.GetLastPInvokeError()}");
                    }
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return made ?? throw new InvalidOperationException($"making a socket in {ns.Name} failed", failure);
    }

    /// <summary>Relays every connection <paramref name="listener"/> accepts to 127.0.0.1:<paramref name="port"/> on a socket <paramref name="connect"/> makes.</summary>
    private async Task AcceptAsync(Socket listener, Func<Socket> connect, int port, ServiceGate gate)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => PipeAsync(accepted, connect, port, gate));
        }
    }

    /// <summary>Relays <paramref name="accepted"/> to 127.0.0.1:<paramref name="port"/> through <paramref name="gate"/>.</summary>
    private async Task PipeAsync(Socket accepted, Func<Socket> connect, int port, ServiceGate gate)
    {
        var inside = accepted;
        using var outside = connect();
        outside.NoDelay = true;
        inside.NoDelay = true;
        try
        {
            await gate.PassAsync(_stopping.Token);
            await outside.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), _stopping.Token);
            await using var a = new NetworkStream(inside, ownsSocket: true);
            await using var b = new NetworkStream(outside, ownsSocket: false);

            // Either side closing ends both, as a direct connection would.
            await Task.WhenAny(CopyAsync(a, b, gate), CopyAsync(b, a, gate));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A member killed or a service stopped: the connection ends, as it would directly.
        }
        finally
        {
            inside.Dispose();
        }
    }

    private async Task CopyAsync(Stream from, Stream to, ServiceGate gate)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stopping.Token);
            if (read == 0)
            {
                return;
            }

            await gate.PassAsync(_stopping.Token);
            await to.WriteAsync(buffer.AsMemory(0, read), _stopping.Token);
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        foreach (var ns in _members)
        {
            ns.Dispose();
        }

        _hub.Dispose();
    }

    /// <summary>Open lets bytes through; closed holds them (and new connections) until it opens again.</summary>
    private sealed class ServiceGate
    {
        private TaskCompletionSource _open = Opened();

        public static ServiceGate AlwaysOpen { get; } = new();

        public Task PassAsync(CancellationToken stopping) => Volatile.Read(ref _open).Task.WaitAsync(stopping);

        public void Close()
        {
            if (Volatile.Read(ref _open).Task.IsCompleted)
            {
                Volatile.Write(ref _open, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }
        }

        public void Open() => Volatile.Read(ref _open).TrySetResult();

        private static TaskCompletionSource Opened()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
}
