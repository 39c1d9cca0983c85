// The packaging collection builds a .deb and boots systemd in a container; the containers collection builds
// and runs the lab images. On 2 cores they run one after the other, never side by side.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
